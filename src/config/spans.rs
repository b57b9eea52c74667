//! Where each key of rules.yaml is written. serde_yaml's values carry no
//! positions, so a second, event-level pass over the same text records the
//! line of every key and list item; errors look their path up here.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// One step of a path into the document: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// The dotted form users read: `rules[0].when.failed.above`.
pub fn render_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// Line numbers (1-based) by path.
#[derive(Debug, Default)]
pub struct Spans {
    lines: HashMap<Vec<Segment>, usize>,
}

impl Spans {
    /// Indexes `text`; a text that does not parse gives an empty index
    /// (serde_yaml reports the syntax error with its own position).
    pub fn index(text: &str) -> Spans {
        let mut builder = Builder::default();
        let _ = Parser::new_from_str(text).load(&mut builder, false);
        Spans { lines: builder.lines }
    }

    /// The line of `path`, or of its nearest ancestor that has one.
    pub fn line(&self, path: &[Segment]) -> Option<usize> {
        (0..=path.len())
            .rev()
            .find_map(|len| self.lines.get(&path[..len]).copied())
    }
}

enum Frame {
    Mapping { key: Option<String>, owns: bool },
    Sequence { next: usize, owns: bool },
}

#[derive(Default)]
struct Builder {
    lines: HashMap<Vec<Segment>, usize>,
    path: Vec<Segment>,
    frames: Vec<Frame>,
}

impl Builder {
    /// A node starts: a mapping key, a mapping value or a list item.
    /// Returns whether it pushed a path segment that its end must pop.
    fn begin_node(&mut self, scalar: Option<&str>, line: usize) -> bool {
        let segment = match self.frames.last_mut() {
            None => return false,
            Some(Frame::Mapping { key, .. }) if key.is_none() => {
                // A key: record where it is written; only a (rare) complex
                // key, a mapping or list, has children that need a segment.
                let name = scalar.unwrap_or("?").to_owned();
                *key = Some(name.clone());
                self.path.push(Segment::Key(name));
                self.lines.entry(self.path.clone()).or_insert(line);
                if scalar.is_some() {
                    self.path.pop();
                    return false;
                }
                return true;
            }
            Some(Frame::Mapping { key, .. }) => Segment::Key(key.take().unwrap_or_default()),
            Some(Frame::Sequence { next, .. }) => {
                *next += 1;
                Segment::Index(*next - 1)
            }
        };
        self.path.push(segment);
        self.lines.entry(self.path.clone()).or_insert(line);
        true
    }

    /// A scalar or alias: a node without children.
    fn leaf(&mut self, text: &str, line: usize) {
        if self.begin_node(Some(text), line) {
            self.path.pop();
        }
    }

    fn end_container(&mut self) {
        let owns = match self.frames.pop() {
            Some(Frame::Mapping { owns, .. } | Frame::Sequence { owns, .. }) => owns,
            None => false,
        };
        if owns {
            self.path.pop();
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line();
        match event {
            Event::Scalar(value, ..) => self.leaf(&value, line),
            Event::Alias(_) => self.leaf("*alias", line),
            Event::MappingStart(..) => {
                let owns = self.begin_node(None, line);
                self.frames.push(Frame::Mapping { key: None, owns });
            }
            Event::SequenceStart(..) => {
                let owns = self.begin_node(None, line);
                self.frames.push(Frame::Sequence { next: 0, owns });
            }
            Event::MappingEnd | Event::SequenceEnd => self.end_container(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> Vec<Segment> {
        path.split('.')
            .map(|part| match part.parse::<usize>() {
                Ok(index) => Segment::Index(index),
                Err(_) => Segment::Key(part.to_owned()),
            })
            .collect()
    }

    #[test]
    fn keys_and_list_items_have_their_line() {
        let text = "server:\n  listen: x\nrules:\n  - name: a\n    when:\n      failed: { above: 0 }\n  - name: b\n";
        let spans = Spans::index(text);
        assert_eq!(spans.line(&key("server")), Some(1));
        assert_eq!(spans.line(&key("server.listen")), Some(2));
        assert_eq!(spans.line(&key("rules.0")), Some(4));
        assert_eq!(spans.line(&key("rules.0.when.failed")), Some(6));
        assert_eq!(spans.line(&key("rules.0.when.failed.above")), Some(6));
        assert_eq!(spans.line(&key("rules.1.name")), Some(7));
    }

    #[test]
    fn an_unknown_path_falls_back_to_its_nearest_ancestor() {
        let spans = Spans::index("a:\n  b: 1\n");
        assert_eq!(spans.line(&key("a.b.c")), Some(2));
    }

    #[test]
    fn paths_render_as_users_write_them() {
        assert_eq!(render_path(&key("rules.0.when.failed")), "rules[0].when.failed");
    }
}
