//! The service model's patterns are Java regular expressions (`java.util.regex`, matched
//! against the whole value). Rust's `regex` differs in ways that change the answer: `\d`, `\w`
//! and `\s` are Unicode there and ASCII in Java, `.` excludes more line terminators in Java,
//! negative look-ahead does not exist, and `--`/`&&` mean set operations inside a class. This
//! translates the subset the model uses into an equivalent Rust pattern; anything outside that
//! subset is refused rather than guessed.

use std::iter::Peekable;
use std::str::Chars;

/// A Java pattern rewritten for Rust: `regex` (anchored, whole value) plus the literal prefixes
/// a leading `(?!...)` forbids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    pub regex: String,
    pub forbidden_prefix: Option<String>,
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_')];
const SPACE: &[(char, char)] = &[('\t', '\r'), (' ', ' ')];
const ASCII: &[(char, char)] = &[('\0', '\x7f')];
/// Java's `.` excludes these line terminators (Rust's excludes only `\n`).
const LINE_TERMINATORS: &[(char, char)] = &[
    ('\n', '\n'),
    ('\r', '\r'),
    ('\u{85}', '\u{85}'),
    ('\u{2028}', '\u{2029}'),
];

fn item(c: char) -> String {
    if c.is_ascii_alphanumeric() {
        c.to_string()
    } else {
        format!("\\x{{{:x}}}", c as u32)
    }
}

fn ranges(rs: &[(char, char)]) -> String {
    rs.iter()
        .map(|&(a, b)| {
            if a == b {
                item(a)
            } else {
                format!("{}-{}", item(a), item(b))
            }
        })
        .collect()
}

fn class(rs: &[(char, char)], negated: bool) -> String {
    format!("[{}{}]", if negated { "^" } else { "" }, ranges(rs))
}

/// What follows a backslash: a predefined class (and whether it is negated) or one literal.
enum Escape {
    Class(&'static [(char, char)], bool),
    Literal(char),
}

fn escape(it: &mut Peekable<Chars>) -> Result<Escape, String> {
    let c = it.next().ok_or("pattern ends with a lone backslash")?;
    Ok(match c {
        'd' => Escape::Class(DIGIT, false),
        'D' => Escape::Class(DIGIT, true),
        'w' => Escape::Class(WORD, false),
        'W' => Escape::Class(WORD, true),
        's' => Escape::Class(SPACE, false),
        'S' => Escape::Class(SPACE, true),
        'p' | 'P' => {
            let name: String = if it.peek() == Some(&'{') {
                it.next();
                it.by_ref().take_while(|&c| c != '}').collect()
            } else {
                return Err("\\p without {name}".into());
            };
            match name.as_str() {
                "ASCII" => Escape::Class(ASCII, c == 'P'),
                other => return Err(format!("unsupported property \\p{{{other}}}")),
            }
        }
        't' => Escape::Literal('\t'),
        'n' => Escape::Literal('\n'),
        'r' => Escape::Literal('\r'),
        c if c.is_ascii_punctuation() => Escape::Literal(c),
        other => return Err(format!("unsupported escape \\{other}")),
    })
}

/// One literal of a class (a plain or escaped character), or `None` for a class escape.
fn class_literal(c: char, it: &mut Peekable<Chars>) -> Result<Result<char, String>, String> {
    if c != '\\' {
        return Ok(Ok(c));
    }
    Ok(match escape(it)? {
        Escape::Literal(l) => Ok(l),
        Escape::Class(rs, false) => Err(ranges(rs)),
        Escape::Class(_, true) => return Err("negated class escape inside a class".into()),
    })
}

/// `[...]` after its `[`: Java reads `a-b` as a range whenever `-` is followed by anything but
/// `]` (so `+-=` is the range `+`..`=`, digits included); a `-` first, last or right after a
/// range is literal.
fn bracket(it: &mut Peekable<Chars>) -> Result<String, String> {
    let negated = it.peek() == Some(&'^');
    if negated {
        it.next();
    }
    let mut out = String::new();
    loop {
        let c = it.next().ok_or("unterminated character class")?;
        match c {
            ']' if !out.is_empty() => break,
            '[' => return Err("nested character classes are not supported".into()),
            '&' if it.peek() == Some(&'&') => {
                return Err("class intersection is not supported".into())
            }
            _ => {}
        }
        match class_literal(c, it)? {
            Err(expanded) => out.push_str(&expanded),
            Ok(start) => {
                let mut ahead = it.clone();
                if ahead.next() == Some('-') && ahead.peek().is_some_and(|&n| n != ']') {
                    it.next();
                    let e = it.next().expect("peeked");
                    let end = match class_literal(e, it)? {
                        Ok(end) => end,
                        Err(_) => return Err("a class escape cannot end a range".into()),
                    };
                    if end < start {
                        return Err(format!("illegal range {start}-{end}"));
                    }
                    out.push_str(&format!("{}-{}", item(start), item(end)));
                } else {
                    out.push_str(&item(start));
                }
            }
        }
    }
    Ok(format!("[{}{out}]", if negated { "^" } else { "" }))
}

/// Literal text of a leading `(?!...)` (escapes allowed, no metacharacters).
fn lookahead(it: &mut Peekable<Chars>) -> Result<String, String> {
    let mut lit = String::new();
    loop {
        match it.next().ok_or("unterminated look-ahead")? {
            ')' => return Ok(lit),
            '\\' => match escape(it)? {
                Escape::Literal(c) => lit.push(c),
                Escape::Class(..) => return Err("only literal look-ahead is supported".into()),
            },
            c if "[](){}|*+?.^$".contains(c) => {
                return Err("only literal look-ahead is supported".into())
            }
            c => lit.push(c),
        }
    }
}

/// Translates a Java pattern into a Rust pattern with the same whole-value matches.
pub fn translate(java: &str) -> Result<Translated, String> {
    let mut it = java.chars().peekable();
    let mut body = String::new();
    let mut forbidden_prefix = None;
    let mut at_start = true;
    while let Some(c) = it.next() {
        match c {
            '\\' => match escape(&mut it)? {
                Escape::Class(rs, negated) => body.push_str(&class(rs, negated)),
                Escape::Literal(l) => body.push_str(&item(l)),
            },
            '[' => body.push_str(&bracket(&mut it)?),
            '.' => body.push_str(&class(LINE_TERMINATORS, true)),
            '(' if it.peek() == Some(&'?') => {
                it.next();
                match it.next() {
                    Some(':') => body.push_str("(?:"),
                    Some('!') if at_start => forbidden_prefix = Some(lookahead(&mut it)?),
                    _ => return Err("only (?:...) and a leading (?!literal) are supported".into()),
                }
            }
            '*' | '+' | '?' | '}' if matches!(it.peek(), Some('+')) => {
                return Err("possessive quantifiers are not supported".into())
            }
            c => body.push(c),
        }
        at_start = false;
    }
    Ok(Translated {
        regex: format!(r"\A(?:{body})\z"),
        forbidden_prefix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn matcher(java: &str) -> impl Fn(&str) -> bool {
        let t = translate(java).unwrap();
        let re = Regex::new(&t.regex).unwrap();
        move |v| {
            t.forbidden_prefix
                .as_deref()
                .is_none_or(|p| !v.starts_with(p))
                && re.is_match(v)
        }
    }

    #[test]
    fn java_semantics() {
        // A dash between two characters is a range, even between punctuation.
        let tag = matcher("(?!aws:)[a-zA-Z+-=._:/]+");
        for ok in ["env1", "cost-center-01", "a+b=c", "x:y/z", "<;"] {
            assert!(tag(ok), "{ok}");
        }
        for bad in ["aws:x", "a b", "é", "a\n", ""] {
            assert!(!tag(bad), "{bad:?}");
        }
        // \d and \w are ASCII in Java.
        let digits = matcher(r"\d+");
        assert!(digits("0123"));
        assert!(!digits("١٢٣"));
        let word = matcher(r"[\w -:`]+");
        assert!(word("job 1: ok`"));
        assert!(!word("ü"));
        // Java's '.' stops at \r and the Unicode line separators too.
        let any = matcher("a.b");
        assert!(any("axb"));
        assert!(!any("a\rb") && !any("a\u{2028}b") && !any("a\nb"));
        // A dash first, last or after a range is literal.
        let lit = matcher("[a-z0-9-_]+");
        assert!(lit("a-_9"));
        assert!(!lit("."));
        let last = matcher("[A-Za-z0-9._/#-]+");
        assert!(last("a/b#c-d"));
        assert!(!last("a,b"));
        let ascii = matcher(r"\p{ASCII}{0,3}");
        assert!(ascii("ab~") && !ascii("é"));
        // The whole value must match (Java's matches()).
        assert!(!matcher("[0-9a-z]{3}")("abcd"));
    }

    #[test]
    fn refuses_what_it_cannot_translate() {
        for p in [
            "(?<=a)b", "a(?!b)", "a++", r"\bword", "[a&&b]", "[[a]]", r"\p{L}",
        ] {
            assert!(translate(p).is_err(), "{p}");
        }
    }
}
