//! A connection's read buffer: received bytes from `start` to `end`, parsed in place.
//!
//! The buffer starts small (an idle connection should cost little memory), doubles when
//! a receive fills it, and shrinks back once drained. Only an op that straddles two
//! receives is ever moved (to the front, before the next receive).

/// Initial and floor size; nats-server's `startBufSize` is 512 too.
pub const READ_BUFFER_BYTES_MIN: usize = 512;
/// The size a busy connection's buffer may grow to for throughput (nats-server's
/// `maxBufSize`); larger only while one op (a big PUB) needs it.
pub const READ_BUFFER_BYTES_BUSY_MAX: usize = 64 * 1024;

/// Received, unparsed bytes and room for the next receive.
pub struct ReadBuffer {
    /// Storage; its length is its capacity in use.
    bytes: Vec<u8>,
    /// First unparsed byte. Invariant: `start <= end <= bytes.len()`.
    start: usize,
    /// One past the last received byte.
    end: usize,
}

impl Default for ReadBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadBuffer {
    /// An empty buffer of the minimum size.
    pub fn new() -> Self {
        Self {
            bytes: vec![0; READ_BUFFER_BYTES_MIN],
            start: 0,
            end: 0,
        }
    }

    /// The received bytes not yet consumed by the parser.
    pub fn unparsed(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    /// Marks `n` unparsed bytes as consumed.
    pub fn consume(&mut self, n: usize) {
        assert!(self.start + n <= self.end, "consumed past received bytes");
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Takes the bytes out for parsing while the connection record is borrowed
    /// elsewhere; must be given back with [`ReadBuffer::restore`].
    pub fn take(&mut self) -> ReadBuffer {
        std::mem::take(self)
    }

    /// Puts back a buffer taken with [`ReadBuffer::take`].
    pub fn restore(&mut self, taken: ReadBuffer) {
        *self = taken;
    }

    /// Prepares room for a receive and returns where it may write.
    ///
    /// `op_bytes_max` bounds growth when a single unparsed op needs more room than the
    /// busy maximum (a large PUB). Returns `None` when the unparsed op already fills
    /// that bound (the parser should have rejected it).
    pub fn spare(&mut self, op_bytes_max: usize) -> Option<(*mut u8, usize)> {
        let unparsed = self.end - self.start;
        if self.start > 0 && (self.end == self.bytes.len() || unparsed < 64) {
            self.bytes.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = unparsed;
        }
        if self.end == self.bytes.len() {
            let limit = op_bytes_max.max(READ_BUFFER_BYTES_BUSY_MAX);
            if self.bytes.len() >= limit {
                return None;
            }
            let grown = (self.bytes.len() * 2).min(limit);
            self.bytes.resize(grown, 0);
        } else if unparsed == 0 && self.bytes.len() > READ_BUFFER_BYTES_BUSY_MAX {
            // A one-off large op has passed: give the memory back.
            self.bytes = vec![0; READ_BUFFER_BYTES_MIN];
        }
        let spare = &mut self.bytes[self.end..];
        Some((spare.as_mut_ptr(), spare.len()))
    }

    /// Records that a receive wrote `n` bytes at the spare position; returns true when
    /// the receive filled all the room it had (the connection is busy: grow next time).
    pub fn filled(&mut self, n: usize) -> bool {
        assert!(
            self.end + n <= self.bytes.len(),
            "receive overran the buffer"
        );
        self.end += n;
        if self.end == self.bytes.len() && self.bytes.len() < READ_BUFFER_BYTES_BUSY_MAX {
            let grown = (self.bytes.len() * 2).min(READ_BUFFER_BYTES_BUSY_MAX);
            self.bytes.resize(grown, 0);
            return true;
        }
        false
    }

    /// Bytes held by the buffer (for memory accounting).
    pub fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(buffer: &mut ReadBuffer, data: &[u8]) {
        let (ptr, len) = buffer.spare(1 << 20).expect("room");
        assert!(len >= data.len());
        // SAFETY: `spare` returned `len` writable bytes inside the buffer.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
        buffer.filled(data.len());
    }

    #[test]
    fn straddling_op_is_moved_to_front_and_kept() {
        let mut buffer = ReadBuffer::new();
        receive(&mut buffer, b"PING\r\nPU");
        buffer.consume(6);
        assert_eq!(buffer.unparsed(), b"PU");
        receive(&mut buffer, b"B a 0\r\n\r\n");
        assert_eq!(buffer.unparsed(), b"PUB a 0\r\n\r\n");
    }

    #[test]
    fn grows_for_a_large_op_and_shrinks_after() {
        let mut buffer = ReadBuffer::new();
        let big = vec![b'x'; 200_000];
        let mut sent = 0;
        while sent < big.len() {
            let (ptr, len) = buffer.spare(300_000).expect("room");
            let n = len.min(big.len() - sent);
            // SAFETY: `spare` returned `len >= n` writable bytes.
            unsafe { std::ptr::copy_nonoverlapping(big[sent..].as_ptr(), ptr, n) };
            buffer.filled(n);
            sent += n;
        }
        assert_eq!(buffer.unparsed().len(), big.len());
        buffer.consume(big.len());
        buffer.spare(300_000).expect("room");
        assert_eq!(buffer.capacity(), READ_BUFFER_BYTES_MIN);
    }

    #[test]
    fn refuses_to_grow_past_the_op_bound() {
        let mut buffer = ReadBuffer::new();
        let mut total = 0;
        while let Some((ptr, len)) = buffer.spare(100_000) {
            // SAFETY: `spare` returned `len` writable bytes.
            unsafe { std::ptr::write_bytes(ptr, b'y', len) };
            buffer.filled(len);
            total += len;
            assert!(total <= 100_000 + READ_BUFFER_BYTES_BUSY_MAX);
        }
    }
}
