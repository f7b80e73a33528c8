//! STOW-RS uploads (StoreDICOM).
