//! The production transport: non-blocking `std::net::TcpStream`s, optionally under TLS
//! (rustls, cargo feature `rustls`), registered with one `polling` poller.
//!
//! Socket options follow the Java client: `send.buffer.bytes` / `receive.buffer.bytes` set
//! SO_SNDBUF / SO_RCVBUF before the connect (so the TCP window is negotiated with them), or
//! keep the system's when unset (`-1`); TCP_NODELAY is always on. With TLS the ClientHello
//! waits in rustls until the connect completes, and the readiness loop drives the handshake
//! like any other bytes (writable: TLS records out; readable: TLS records in).

use super::connection::ConnectionError;
use super::tls::TlsConnector;
use super::transport::{Interest, Readiness, Stream, Transport, Waker};
use polling::{Event, Events, PollMode, Poller};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Socket settings from the producer config.
#[derive(Debug, Clone, Default)]
pub(crate) struct SocketOptions {
    /// `send.buffer.bytes`; `None` keeps the system default.
    pub send_buffer: Option<usize>,
    /// `receive.buffer.bytes`; `None` keeps the system default.
    pub receive_buffer: Option<usize>,
}

/// Sockets and one poller. See the module docs.
pub(crate) struct TcpTransport {
    poller: Arc<Poller>,
    events: Events,
    tls: Option<TlsConnector>,
    options: SocketOptions,
}

impl TcpTransport {
    /// A transport with its own poller.
    pub fn new(tls: Option<TlsConnector>, options: SocketOptions) -> io::Result<Self> {
        Ok(TcpTransport {
            poller: Arc::new(Poller::new()?),
            events: Events::new(),
            tls,
            options,
        })
    }
}

impl Transport for TcpTransport {
    type Stream = TcpLink;

    fn resolve(&mut self, addr: &str) -> io::Result<Vec<SocketAddr>> {
        // Blocking: the sender thread waits for the resolver (an IP address needs none).
        Ok(addr.to_socket_addrs()?.collect())
    }

    fn connect(
        &mut self,
        addr: &str,
        target: SocketAddr,
        key: usize,
    ) -> Result<(TcpLink, bool), ConnectionError> {
        #[cfg(feature = "tls")]
        let session = self
            .tls
            .as_ref()
            .map(|t| t.start(addr))
            .transpose()?
            .map(Box::new);
        #[cfg(not(feature = "tls"))]
        if let Some(t) = &self.tls {
            match *t {}
        }
        let connect_err = |source| ConnectionError::Connect {
            addr: format!("{addr} ({target})"),
            source,
        };
        let socket = Socket::new(
            Domain::for_address(target),
            Type::STREAM,
            Some(Protocol::TCP),
        )
        .map_err(connect_err)?;
        socket.set_nonblocking(true).map_err(connect_err)?;
        socket.set_tcp_nodelay(true).map_err(connect_err)?;
        if let Some(n) = self.options.send_buffer {
            socket.set_send_buffer_size(n).map_err(connect_err)?;
        }
        if let Some(n) = self.options.receive_buffer {
            socket.set_recv_buffer_size(n).map_err(connect_err)?;
        }
        let connecting = match socket.connect(&target.into()) {
            Ok(()) => false,
            Err(e) if connect_in_progress(&e) => true,
            Err(e) => return Err(connect_err(e)),
        };
        let stream: TcpStream = socket.into();
        let interest = if connecting {
            Interest::Write
        } else {
            Interest::Read
        };
        // SAFETY (of the unsafe `add` below): polling requires that a registered source is
        // deleted from the poller before the socket is closed. The stream lives in the
        // `TcpLink`, whose `Drop` deletes it from the poller before the stream is dropped.
        // Level-triggered: the registration stays armed after an event, so the interest set
        // is only touched when it changes, not after every wake-up.
        #[allow(unsafe_code)]
        unsafe {
            self.poller
                .add_with_mode(&stream, event(interest, key), PollMode::Level)
                .map_err(connect_err)?;
        }
        #[cfg(feature = "tls")]
        let io = match session {
            Some(tls) => Io::Tls(stream, tls),
            None => Io::Plain(stream),
        };
        #[cfg(not(feature = "tls"))]
        let io = Io::Plain(stream);
        let link = TcpLink {
            io,
            poller: self.poller.clone(),
            key,
            registered: true,
        };
        Ok((link, connecting))
    }

    fn wait(&mut self, timeout: Duration, ready: &mut Vec<Readiness>) -> io::Result<()> {
        self.events.clear();
        match self.poller.wait(&mut self.events, Some(timeout)) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        ready.extend(self.events.iter().map(|ev| Readiness {
            key: ev.key,
            readable: ev.readable,
            writable: ev.writable,
        }));
        Ok(())
    }

    fn waker(&self) -> Waker {
        let poller = self.poller.clone();
        Waker::new(move || {
            let _ = poller.notify();
        })
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

fn event(interest: Interest, key: usize) -> Event {
    match interest {
        Interest::Write => Event::writable(key),
        Interest::Read => Event::readable(key),
        Interest::ReadWrite => Event::all(key),
    }
}

/// One socket (perhaps under TLS) registered with the transport's poller.
pub(crate) struct TcpLink {
    io: Io,
    poller: Arc<Poller>,
    key: usize,
    registered: bool,
}

impl TcpLink {
    /// The socket (for tests that inspect its options).
    #[cfg(test)]
    fn socket(&self) -> &TcpStream {
        self.io.stream()
    }

    fn deregister(&mut self) {
        if self.registered {
            let _ = self.poller.delete(self.io.stream());
            self.registered = false;
        }
    }
}

impl Stream for TcpLink {
    fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ConnectionError> {
        self.io.read(buf)
    }
    fn write(&mut self, buf: &[u8]) -> Result<Option<usize>, ConnectionError> {
        self.io.write_vectored(&[IoSlice::new(buf)])
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> Result<Option<usize>, ConnectionError> {
        self.io.write_vectored(bufs)
    }
    fn flush(&mut self) -> Result<(), ConnectionError> {
        self.io.flush()
    }
    fn wants_write(&self) -> bool {
        self.io.wants_write()
    }
    fn finish_connect(&mut self) -> Result<(), ConnectionError> {
        if let Some(e) = self.io.stream().take_error()? {
            return Err(ConnectionError::Io(e));
        }
        // Writable without an error can still mean "not connected" on some systems: the peer
        // address tells.
        self.io.stream().peer_addr()?;
        Ok(())
    }
    fn set_interest(&mut self, interest: Interest) -> io::Result<()> {
        self.poller
            .modify_with_mode(self.io.stream(), event(interest, self.key), PollMode::Level)
    }
    fn shutdown(&mut self) {
        self.deregister();
        self.io.shutdown();
    }
}

impl Drop for TcpLink {
    fn drop(&mut self) {
        self.deregister();
    }
}

/// The byte stream under the framing: the socket itself, or a TLS session over it.
enum Io {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(TcpStream, Box<super::tls::TlsSession>),
}

impl Io {
    fn stream(&self) -> &TcpStream {
        match self {
            Io::Plain(s) => s,
            #[cfg(feature = "tls")]
            Io::Tls(s, _) => s,
        }
    }

    /// Reads plaintext without blocking: `None` when nothing is available yet, `Some(0)` at
    /// the end of the stream.
    fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ConnectionError> {
        match self {
            Io::Plain(s) => loop {
                match s.read(buf) {
                    Ok(n) => return Ok(Some(n)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            },
            #[cfg(feature = "tls")]
            Io::Tls(s, tls) => loop {
                // Plaintext already decrypted first; then more records from the socket.
                match tls.reader().read(buf) {
                    Ok(n) => return Ok(Some(n)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(Some(0)),
                    Err(e) => return Err(e.into()),
                }
                match tls.read_tls(s) {
                    Ok(0) => return Ok(Some(0)),
                    Ok(_) => {
                        if let Err(e) = tls.process_new_packets() {
                            // Tell the broker why (the alert rustls queued), best effort.
                            let _ = tls.write_tls(s);
                            return Err(ConnectionError::Tls(tls.explain(&e)));
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            },
        }
    }

    /// Writes plaintext without blocking: how much was taken, `None` if nothing could be.
    /// With TLS, what rustls took is encrypted (or held until the handshake is done) and
    /// counts as written.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> Result<Option<usize>, ConnectionError> {
        match self {
            Io::Plain(s) => loop {
                match s.write_vectored(bufs) {
                    Ok(0) if bufs.iter().any(|b| !b.is_empty()) => {
                        return Err(ConnectionError::Eof)
                    }
                    Ok(n) => return Ok(Some(n)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            },
            #[cfg(feature = "tls")]
            Io::Tls(s, tls) => {
                // rustls takes nothing while its buffer is full; a second try after the
                // socket took the buffer out.
                for _ in 0..2 {
                    let n = tls.writer().write_vectored(bufs)?;
                    let drained = push_tls(s, tls)?;
                    if n > 0 {
                        return Ok(Some(n));
                    }
                    if !drained || tls.is_handshaking() {
                        break;
                    }
                }
                Ok(None)
            }
        }
    }

    /// Writes what the TLS session has to send (handshake messages, records, alerts).
    fn flush(&mut self) -> Result<(), ConnectionError> {
        match self {
            Io::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            Io::Tls(s, tls) => push_tls(s, tls).map(drop),
        }
    }

    /// Whether the TLS session holds bytes for the socket.
    fn wants_write(&self) -> bool {
        match self {
            Io::Plain(_) => false,
            #[cfg(feature = "tls")]
            Io::Tls(_, tls) => tls.wants_write(),
        }
    }

    fn shutdown(&mut self) {
        #[cfg(feature = "tls")]
        if let Io::Tls(s, tls) = self {
            tls.send_close_notify();
            let _ = tls.write_tls(s);
        }
        let _ = self.stream().shutdown(std::net::Shutdown::Both);
    }
}

/// Writes TLS records to the socket until rustls has none or the socket is full; returns
/// whether everything went out.
#[cfg(feature = "tls")]
fn push_tls(
    s: &mut TcpStream,
    tls: &mut rustls::ClientConnection,
) -> Result<bool, ConnectionError> {
    while tls.wants_write() {
        match tls.write_tls(s) {
            Ok(0) => return Err(ConnectionError::Eof),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// Whether a non-blocking `connect` answered "under way" (EINPROGRESS; WouldBlock on Windows).
/// `io::ErrorKind::InProgress` is not stable yet, hence the raw codes.
fn connect_in_progress(e: &io::Error) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const EINPROGRESS: i32 = 115;
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    ))]
    const EINPROGRESS: i32 = 36;
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    )))]
    const EINPROGRESS: i32 = i32::MIN;
    e.kind() == ErrorKind::WouldBlock || e.raw_os_error() == Some(EINPROGRESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::SockRef;
    use std::net::TcpListener;

    fn connect(options: SocketOptions) -> (TcpTransport, TcpLink, TcpListener) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut t = TcpTransport::new(None, options).unwrap();
        let (link, _) = t.connect(&addr.to_string(), addr, 1).unwrap();
        (t, link, listener)
    }

    #[test]
    fn socket_buffer_sizes_are_set_on_the_socket() {
        // Linux doubles what is asked (bookkeeping overhead) and caps it at net.core.*mem_max,
        // so the socket reports at least what was asked, and more when more is asked.
        let sizes = |n: usize| {
            let (_t, link, _l) = connect(SocketOptions {
                send_buffer: Some(n),
                receive_buffer: Some(n / 2),
            });
            let sock = SockRef::from(link.socket());
            (
                sock.send_buffer_size().unwrap(),
                sock.recv_buffer_size().unwrap(),
            )
        };
        let (snd_small, rcv_small) = sizes(64 * 1024);
        let (snd_large, rcv_large) = sizes(512 * 1024);
        assert!(snd_small >= 64 * 1024, "SO_SNDBUF {snd_small}");
        assert!(rcv_small >= 32 * 1024, "SO_RCVBUF {rcv_small}");
        assert!(snd_large >= 512 * 1024, "SO_SNDBUF {snd_large}");
        assert!(rcv_large >= 256 * 1024, "SO_RCVBUF {rcv_large}");
        assert!(snd_large > snd_small && rcv_large > rcv_small);
        // Unset (-1): the system's default, whatever it is, not one of ours.
        let (_t, link, _l) = connect(SocketOptions::default());
        let fresh = socket2::Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let sock = SockRef::from(link.socket());
        assert_eq!(
            sock.recv_buffer_size().unwrap(),
            fresh.recv_buffer_size().unwrap()
        );
    }

    #[test]
    fn resolve_returns_every_address() {
        let mut t = TcpTransport::new(None, SocketOptions::default()).unwrap();
        let addrs = t.resolve("127.0.0.1:9092").unwrap();
        assert_eq!(addrs, vec!["127.0.0.1:9092".parse::<SocketAddr>().unwrap()]);
    }
}
