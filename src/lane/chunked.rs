//! Where a chunked body ends (RFC 9112 §7.1), read as it streams by: the
//! lane relays the upstream's chunks as they are and must know which byte
//! is the last of this response, so the next response on the connection is
//! never mixed into this one. Strict: CRLF only (a bare LF is an error),
//! chunk sizes of at most 15 hex digits, trailers bounded.

/// How far a chunked body has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunked {
    state: State,
    /// Bytes of trailer section read so far (bounded by `max_trailers`).
    trailers: usize,
    max_trailers: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In a chunk size: its value so far and how many digits.
    Size(u64, u8),
    /// After the size: an extension, up to CR.
    Extension(u64),
    /// CR read after a size line; LF expected.
    SizeLf(u64),
    /// Chunk data still to come.
    Data(u64),
    /// The CR after a chunk's data.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    TrailerLf,
    /// The CR of the final empty line read; LF expected.
    EndLf,
    Done,
}

/// The body is not valid chunked coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl Chunked {
    pub fn new(max_trailers: usize) -> Chunked {
        Chunked {
            state: State::Size(0, 0),
            trailers: 0,
            max_trailers,
        }
    }

    /// Reads `bytes`, the next part of the body: `Ok(Some(n))` when the
    /// body ends after its first `n` bytes, `Ok(None)` when it goes on.
    pub fn scan(&mut self, bytes: &[u8]) -> Result<Option<usize>, Malformed> {
        let mut at = 0;
        while at < bytes.len() {
            if let State::Data(left) = self.state {
                // Skip the data in one step.
                let take = left.min((bytes.len() - at) as u64);
                at += take as usize;
                self.state = if take == left {
                    State::DataCr
                } else {
                    State::Data(left - take)
                };
                continue;
            }
            self.state = self.step(bytes[at])?;
            at += 1;
            if self.state == State::Done {
                return Ok(Some(at));
            }
        }
        Ok(None)
    }

    fn step(&mut self, byte: u8) -> Result<State, Malformed> {
        let next = match (self.state, byte) {
            (State::Size(size, digits), _) if byte.is_ascii_hexdigit() => {
                if digits >= 15 {
                    return Err(Malformed("chunk size too large"));
                }
                let digit = (byte as char).to_digit(16).unwrap_or(0);
                State::Size(size * 16 + u64::from(digit), digits + 1)
            }
            (State::Size(_, 0), _) => return Err(Malformed("chunk size expected")),
            (State::Size(size, _), b'\r') => State::SizeLf(size),
            (State::Size(size, _), b';' | b' ' | b'\t') => State::Extension(size),
            (State::Extension(size), b'\r') => State::SizeLf(size),
            (State::Extension(_), b'\n') => return Err(Malformed("bare LF in a chunk line")),
            (State::Extension(size), _) => State::Extension(size),
            (State::SizeLf(0), b'\n') => State::TrailerStart,
            (State::SizeLf(size), b'\n') => State::Data(size),
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => State::Size(0, 0),
            (State::TrailerStart, b'\r') => State::EndLf,
            (State::EndLf, b'\n') => State::Done,
            (State::TrailerStart | State::Trailer, b'\n') => {
                return Err(Malformed("bare LF in a trailer"))
            }
            (State::Trailer, b'\r') => State::TrailerLf,
            (State::TrailerStart | State::Trailer, _) => State::Trailer,
            (State::TrailerLf, b'\n') => State::TrailerStart,
            _ => return Err(Malformed("invalid chunked coding")),
        };
        if matches!(
            next,
            State::Trailer | State::TrailerLf | State::TrailerStart
        ) {
            self.trailers += 1;
            if self.trailers > self.max_trailers {
                return Err(Malformed("trailers too large"));
            }
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `body` split at every position, and byte by byte: the end is
    /// found at the same place however the reads fall.
    fn end_of(body: &[u8]) -> Result<Option<usize>, Malformed> {
        let whole = Chunked::new(1024).scan(body);
        for split in 0..=body.len() {
            let mut chunked = Chunked::new(1024);
            let (first, second) = body.split_at(split);
            let found = match chunked.scan(first) {
                Ok(Some(n)) => Ok(Some(n)),
                Ok(None) => chunked.scan(second).map(|end| end.map(|n| n + split)),
                Err(err) => Err(err),
            };
            assert_eq!(
                found,
                whole,
                "split at {split} of {:?}",
                String::from_utf8_lossy(body)
            );
        }
        let mut chunked = Chunked::new(1024);
        let mut one_by_one = Ok(None);
        for (at, byte) in body.iter().enumerate() {
            match chunked.scan(std::slice::from_ref(byte)) {
                Ok(None) => continue,
                Ok(Some(_)) => {
                    one_by_one = Ok(Some(at + 1));
                    break;
                }
                Err(err) => {
                    one_by_one = Err(err);
                    break;
                }
            }
        }
        assert_eq!(one_by_one, whole);
        whole
    }

    #[test]
    fn the_end_is_found_wherever_the_reads_split_the_body() {
        let body = b"5\r\nhello\r\n0\r\n\r\n";
        assert_eq!(end_of(body), Ok(Some(body.len())));
        let long = b"1A;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n0;x\r\nTrailer: 1\r\n\r\n";
        assert_eq!(end_of(long), Ok(Some(long.len())));
    }

    #[test]
    fn what_follows_the_end_is_not_part_of_the_body() {
        let body = b"3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n";
        assert_eq!(end_of(body), Ok(Some(13)));
    }

    #[test]
    fn an_unfinished_body_goes_on() {
        assert_eq!(end_of(b"5\r\nhel"), Ok(None));
        assert_eq!(end_of(b"0\r\n"), Ok(None));
        assert_eq!(end_of(b"0\r\nX: 1\r\n"), Ok(None));
    }

    #[test]
    fn bad_coding_is_refused_not_guessed() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"0\r\n\n",
            b"0\r\nX: 1\n\r\n",
            b"1234567890abcdef0\r\n",
            b"-5\r\n",
            b"+5\r\n",
            b"5 \n",
        ] {
            assert!(end_of(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn trailers_are_bounded() {
        let mut body = b"0\r\n".to_vec();
        body.extend(std::iter::repeat_n(b'a', 2000));
        assert_eq!(
            Chunked::new(1024).scan(&body),
            Err(Malformed("trailers too large"))
        );
    }
}
