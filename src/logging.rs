//! Log lines as the operator's tools need them: each line's level visible
//! to journald (the sd-daemon `<N>` prefix, so `journalctl -p err` finds a
//! rejected reload), and control characters from payload values escaped in
//! text lines, so a data-type name with a newline cannot forge a line.

use std::io::{self, BufWriter, Write};
use std::thread;
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Wraps the writer of the fmt layer; it is given one whole line per write.
pub struct LineWriter<M> {
    inner: M,
    /// Prefix each line with its syslog priority (under journald).
    priorities: bool,
    /// Escape control characters inside a line (text format; JSON escapes
    /// its own).
    escape: bool,
}

impl<M> LineWriter<M> {
    pub fn new(inner: M, priorities: bool, escape: bool) -> LineWriter<M> {
        LineWriter {
            inner,
            priorities,
            escape,
        }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for LineWriter<M> {
    type Writer = Line<M::Writer>;

    fn make_writer(&'a self) -> Line<M::Writer> {
        self.line(self.inner.make_writer(), None)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<M::Writer> {
        let priority = self.priorities.then(|| priority(meta.level()));
        self.line(self.inner.make_writer_for(meta), priority)
    }
}

impl<M> LineWriter<M> {
    fn line<W>(&self, inner: W, priority: Option<u8>) -> Line<W> {
        Line {
            inner,
            priority,
            escape: self.escape,
        }
    }
}

/// The syslog priority journald reads from a `<N>` prefix.
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

pub struct Line<W> {
    inner: W,
    priority: Option<u8>,
    escape: bool,
}

impl<W: Write> Write for Line<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len() + 8);
        if let Some(priority) = self.priority {
            out.extend_from_slice(format!("<{priority}>").as_bytes());
        }
        match self.escape {
            true => escape_into(buf, &mut out),
            false => out.extend_from_slice(buf),
        }
        self.inner.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The log thread's writer. Waking that thread for every line and writing
/// each line with a system call of its own cost 8% of the daemon's CPU
/// under load. The thread flushes whenever it has drained its queue, so
/// resting in `flush` lets the lines logged meanwhile queue up without
/// waking it; they are then written together. A line waits at most
/// `pause` before it is written.
pub struct Paced<W: Write> {
    out: BufWriter<W>,
    pause: Duration,
}

impl<W: Write> Paced<W> {
    pub fn new(out: W, pause: Duration) -> Paced<W> {
        Paced {
            out: BufWriter::with_capacity(64 * 1024, out),
            pause,
        }
    }
}

impl<W: Write> Write for Paced<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        thread::sleep(self.pause);
        Ok(())
    }
}

/// Copies `line`, writing every control character but the final newline,
/// tab and the ESC of colour codes as a visible escape (`\n`, `\r`,
/// `\u{7}`).
fn escape_into(line: &[u8], out: &mut Vec<u8>) {
    let (body, end) = match line.strip_suffix(b"\n") {
        Some(body) => (body, &b"\n"[..]),
        None => (line, &b""[..]),
    };
    for &byte in body {
        match byte {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' | 0x1b => out.push(byte),
            byte if byte < 0x20 || byte == 0x7f => out.extend_from_slice(format!("\\u{{{byte:x}}}").as_bytes()),
            byte => out.push(byte),
        }
    }
    out.extend_from_slice(end);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(priorities: bool, escape: bool, level: Level, line: &[u8]) -> String {
        let mut out = Vec::new();
        let priority = priorities.then(|| priority(&level));
        let mut writer = Line {
            inner: &mut out,
            priority,
            escape,
        };
        writer.write_all(line).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_newline_inside_a_line_cannot_start_a_forged_one() {
        let line = b"WARN event rejected: `data.requests.x\nINFO syncwatch: configuration reloaded` is bad\n";
        let out = written(false, true, Level::WARN, line);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.contains("x\\nINFO syncwatch"), "{out}");
        assert!(out.ends_with("is bad\n"));
    }

    /// Counts the writes that reach it.
    #[derive(Default)]
    struct Calls(Vec<Vec<u8>>);

    impl Write for &mut Calls {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_logged_between_flushes_are_written_together_at_the_flush() {
        let mut calls = Calls::default();
        let mut paced = Paced::new(&mut calls, Duration::ZERO);
        paced.write_all(b"one\n").unwrap();
        paced.write_all(b"two\n").unwrap();
        paced.flush().unwrap();
        paced.write_all(b"three\n").unwrap();
        paced.flush().unwrap();
        drop(paced);
        assert_eq!(calls.0, [b"one\ntwo\n".to_vec(), b"three\n".to_vec()]);
    }

    #[test]
    fn each_line_carries_its_level_for_journald() {
        assert_eq!(
            written(true, true, Level::ERROR, b"reload rejected\n"),
            "<3>reload rejected\n"
        );
        assert_eq!(written(true, true, Level::WARN, b"w\n"), "<4>w\n");
        assert_eq!(written(true, false, Level::INFO, b"{\"a\":1}\n"), "<6>{\"a\":1}\n");
        assert_eq!(written(false, true, Level::DEBUG, b"d\n"), "d\n");
    }
}
