//! Lines of a line-based protocol, with a maximum length.

use std::io;

use bytes::{BufMut as _, Bytes, BytesMut};
use tokio_util::codec::{AnyDelimiterCodec, AnyDelimiterCodecError, Decoder, Encoder};

/// One input line, or the news that a line was too long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A line without its end. Bytes, not text: legacy networks do not all
    /// send UTF-8.
    Text(Bytes),
    /// A line longer than the maximum arrived; it was skipped as it came,
    /// never buffered whole. The next line is read normally.
    TooLong,
}

/// A codec for line protocols: a line ends at any of the end bytes (by
/// default CR or LF, so that a lone CR ends a line as in IRC), empty lines
/// are skipped, and a line longer than the maximum is refused as it arrives
/// ([`Line::TooLong`]) without being buffered.
///
/// Writing appends the terminator (by default CRLF) and refuses a line that
/// contains an end byte, which would smuggle a second line in.
///
/// ```
/// use bytes::BytesMut;
/// use spectrum_backend::gateway::link::{Line, LineCodec};
/// use tokio_util::codec::Decoder;
///
/// let mut codec = LineCodec::new(512);
/// let mut input = BytesMut::from("PING :a\rPING :b\r\n");
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(Line::Text("PING :a".into())));
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(Line::Text("PING :b".into())));
/// assert_eq!(codec.decode(&mut input).unwrap(), None);
/// ```
#[derive(Clone, Debug)]
pub struct LineCodec {
    inner: AnyDelimiterCodec,
    ends: Vec<u8>,
    terminator: Vec<u8>,
    max_length: usize,
}

impl LineCodec {
    /// Lines end at CR or LF, are written with CRLF, and may be
    /// `max_length` bytes long (without their end).
    pub fn new(max_length: usize) -> LineCodec {
        LineCodec::with_ends(b"\r\n", b"\r\n", max_length)
    }

    /// Lines end at any byte of `ends` and are written followed by
    /// `terminator`.
    ///
    /// ```
    /// # use spectrum_backend::gateway::link::LineCodec;
    /// // A protocol whose lines end at LF only, a CR being data.
    /// let codec = LineCodec::with_ends(b"\n", b"\n", 4096);
    /// ```
    pub fn with_ends(ends: &[u8], terminator: &[u8], max_length: usize) -> LineCodec {
        LineCodec {
            inner: AnyDelimiterCodec::new_with_max_length(
                ends.to_vec(),
                terminator.to_vec(),
                max_length,
            ),
            ends: ends.to_vec(),
            terminator: terminator.to_vec(),
            max_length,
        }
    }

    /// The longest line accepted, without its end.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    fn line(
        &mut self,
        decoded: Result<Option<Bytes>, AnyDelimiterCodecError>,
    ) -> io::Result<Option<Option<Line>>> {
        match decoded {
            // CRLF is two ends in a row: the empty line between them is no line.
            Ok(Some(chunk)) if chunk.is_empty() => Ok(None),
            Ok(Some(chunk)) => Ok(Some(Some(Line::Text(chunk)))),
            Ok(None) => Ok(Some(None)),
            // The inner codec now skips the rest of the line as it arrives.
            Err(AnyDelimiterCodecError::MaxChunkLengthExceeded) => Ok(Some(Some(Line::TooLong))),
            Err(AnyDelimiterCodecError::Io(e)) => Err(e),
        }
    }
}

impl Decoder for LineCodec {
    type Item = Line;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> io::Result<Option<Line>> {
        loop {
            let decoded = self.inner.decode(buf);
            if let Some(line) = self.line(decoded)? {
                return Ok(line);
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> io::Result<Option<Line>> {
        loop {
            let decoded = self.inner.decode_eof(buf);
            if let Some(line) = self.line(decoded)? {
                return Ok(line);
            }
        }
    }
}

impl<T: AsRef<[u8]>> Encoder<T> for LineCodec {
    type Error = io::Error;

    fn encode(&mut self, line: T, dst: &mut BytesMut) -> io::Result<()> {
        let line = line.as_ref();
        if line.iter().any(|b| self.ends.contains(b)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a line to send contains a line end",
            ));
        }
        dst.reserve(line.len() + self.terminator.len());
        dst.put_slice(line);
        dst.put_slice(&self.terminator);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut LineCodec, input: &[u8]) -> Vec<Line> {
        let mut buf = BytesMut::from(input);
        let mut lines = Vec::new();
        while let Some(line) = codec.decode(&mut buf).expect("no I/O error") {
            lines.push(line);
        }
        lines
    }

    fn text(s: &str) -> Line {
        Line::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn cr_lf_and_crlf_all_end_lines() {
        let mut codec = LineCodec::new(100);
        let lines = decode_all(&mut codec, b"one\rtwo\nthree\r\n\r\nfour\n");
        assert_eq!(
            lines,
            [text("one"), text("two"), text("three"), text("four")]
        );
    }

    #[test]
    fn the_ends_are_configurable() {
        let mut codec = LineCodec::with_ends(b"\n", b"\n", 100);
        assert_eq!(decode_all(&mut codec, b"a\rb\n"), [text("a\rb")]);
    }

    #[test]
    fn a_partial_line_waits_for_its_end() {
        let mut codec = LineCodec::new(100);
        let mut buf = BytesMut::from(&b"hal"[..]);
        assert_eq!(codec.decode(&mut buf).expect("ok"), None);
        buf.extend_from_slice(b"f\n");
        assert_eq!(codec.decode(&mut buf).expect("ok"), Some(text("half")));
    }

    #[test]
    fn a_line_at_the_limit_passes_one_over_is_refused() {
        let mut codec = LineCodec::new(4);
        let lines = decode_all(&mut codec, b"1234\n12345\nok\n");
        assert_eq!(lines, [text("1234"), Line::TooLong, text("ok")]);
    }

    #[test]
    fn an_endless_line_is_skipped_as_it_comes_without_buffering() {
        let mut codec = LineCodec::new(1024);
        let mut buf = BytesMut::new();
        let chunk = [b'x'; 8192];
        let mut refused = 0;
        for _ in 0..1024 {
            // 8 MiB in all, fed as a socket would.
            buf.extend_from_slice(&chunk);
            while let Some(line) = codec.decode(&mut buf).expect("ok") {
                assert_eq!(line, Line::TooLong);
                refused += 1;
            }
            assert!(buf.len() <= 1024 + 1, "buffered {} bytes", buf.len());
        }
        assert_eq!(refused, 1, "one report per long line");
        buf.extend_from_slice(b"tail\nnext\n");
        assert_eq!(codec.decode(&mut buf).expect("ok"), Some(text("next")));
    }

    #[test]
    fn the_last_line_counts_at_end_of_stream() {
        let mut codec = LineCodec::new(100);
        let mut buf = BytesMut::from(&b"bye"[..]);
        assert_eq!(codec.decode_eof(&mut buf).expect("ok"), Some(text("bye")));
        assert_eq!(codec.decode_eof(&mut buf).expect("ok"), None);
    }

    #[test]
    fn writing_appends_the_terminator_and_refuses_smuggled_lines() {
        let mut codec = LineCodec::new(100);
        let mut out = BytesMut::new();
        codec
            .encode("PRIVMSG #a :hi", &mut out)
            .expect("a clean line");
        assert_eq!(&out[..], b"PRIVMSG #a :hi\r\n");
        let err = codec
            .encode("hi\r\nQUIT", &mut out)
            .expect_err("a line end inside");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(&out[..], b"PRIVMSG #a :hi\r\n", "nothing written");
    }
}
