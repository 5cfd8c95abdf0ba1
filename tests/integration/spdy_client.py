"""A small SPDY/3.1 client for the streaming tests: the HTTP upgrade, SYN_STREAM with
zlib-compressed headers (the SPDY/3 dictionary), DATA with FIN, and a reader thread that
collects each stream's data, replies, resets and the session's GOAWAY."""
import socket
import struct
import threading
import time
import urllib.parse
import zlib

# SPDY/3 header dictionary (draft 3, 2.6.10.1): 65 length-prefixed words, then common values.
_WORDS = [
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
    "cache-control", "connection", "content-base", "content-encoding", "content-language",
    "content-length", "content-location", "content-md5", "content-range", "content-type", "date",
    "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
    "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
    "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
    "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK", "version",
    "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
]
_TAIL = (
    "1001012012022052063003023033043053063074024054064074084094104114124134144154164175025045"
    "05203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401"
    " Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 S"
    "ervice UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, We"
    "d, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xm"
    "l,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdc"
    "hcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()
assert len(DICTIONARY) == 1423 and zlib.adler32(DICTIONARY) == 0xE3C6A7C2

FIN = 0x01
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY = 1, 2, 3, 4, 6, 7
HEADERS, WINDOW_UPDATE = 8, 9


class UpgradeRefused(Exception):
    def __init__(self, status, headers, body):
        super().__init__(f"HTTP {status}: {body!r}")
        self.status, self.headers, self.body = status, headers, body


def http_upgrade(url, upgrade, headers=(), timeout=10):
    """Sends the upgrade request; returns (socket, status, headers, bytes after the head)."""
    u = urllib.parse.urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
    path = u.path + (("?" + u.query) if u.query else "")
    lines = [f"GET {path} HTTP/1.1", f"Host: {u.netloc}", "Connection: Upgrade",
             f"Upgrade: {upgrade}"] + [f"{k}: {v}" for k, v in headers]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    status = int(status_line.split()[1])
    hdrs = [tuple(x.strip() for x in line.split(":", 1)) for line in header_lines]
    return sock, status, hdrs, rest


class Stream:
    def __init__(self, sid, headers):
        self.id, self.headers = sid, headers
        self.data = bytearray()
        self.replied = threading.Event()
        self.closed = threading.Event()  # FIN or RST from the server
        self.reset = None


class Session:
    def __init__(self, url, protocols, timeout=10):
        hdrs = [("X-Stream-Protocol-Version", p) for p in protocols]
        self.sock, status, headers, rest = http_upgrade(url, "SPDY/3.1", hdrs, timeout)
        if status != 101:
            body = rest
            self.sock.close()
            raise UpgradeRefused(status, headers, body)
        self.protocol = dict((k.lower(), v) for k, v in headers).get("x-stream-protocol-version")
        self.sock.settimeout(None)
        self.buf = rest
        self.deflate = zlib.compressobj(zdict=DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.streams, self.next_id = {}, 1
        self.goaway = threading.Event()
        self.eof = threading.Event()
        self.lock = threading.Lock()
        self.pings = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    # ---- writing ----
    def _control(self, ftype, flags, payload):
        return struct.pack(">HHI", 0x8000 | 3, ftype, (flags << 24) | len(payload)) + payload

    def send_raw(self, data):
        with self.lock:
            self.sock.sendall(data)

    def header_block(self, headers):
        nv = struct.pack(">I", len(headers))
        for k, v in headers.items():
            nv += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
        return self.deflate.compress(nv) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    def open(self, fin=False, **headers):
        with self.lock:
            sid = self.next_id
            self.next_id += 2
            st = Stream(sid, headers)
            self.streams[sid] = st
            payload = struct.pack(">IIH", sid, 0, 0) + self.header_block(headers)
            self.sock.sendall(self._control(SYN_STREAM, FIN if fin else 0, payload))
        return st

    def send(self, st, data, fin=False):
        """DATA frames of at most 32 KiB, as the Go client sends them."""
        chunks = [data[i:i + 32768] for i in range(0, len(data), 32768)] or [b""]
        for i, chunk in enumerate(chunks):
            last = fin and i == len(chunks) - 1
            self.send_raw(struct.pack(">II", st.id, ((FIN if last else 0) << 24) | len(chunk))
                          + chunk)

    def ping(self, pid):
        self.send_raw(self._control(PING, 0, struct.pack(">I", pid)))

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    # ---- reading ----
    def _recv(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read(self):
        try:
            while True:
                head = self._recv(8)
                w0, w1 = struct.unpack(">II", head)
                flags, length = w1 >> 24, w1 & 0xFFFFFF
                payload = self._recv(length)
                if w0 & 0x80000000:
                    self._on_control((w0 & 0xFFFF), flags, payload)
                else:
                    st = self.streams.get(w0 & 0x7FFFFFFF)
                    if st:
                        st.data += payload
                        if flags & FIN:
                            st.closed.set()
        except (EOFError, OSError):
            pass
        self.eof.set()
        for st in self.streams.values():
            st.closed.set()

    def _on_control(self, ftype, flags, payload):
        if ftype == SYN_REPLY:
            sid = struct.unpack(">I", payload[:4])[0]
            self.inflate.decompress(payload[4:])
            self.streams[sid].replied.set()
            if flags & FIN:
                self.streams[sid].closed.set()
        elif ftype == RST_STREAM:
            sid, code = struct.unpack(">II", payload)
            st = self.streams.get(sid)
            if st:
                st.reset = code
                st.replied.set()
                st.closed.set()
        elif ftype == GOAWAY:
            self.goaway.set()
        elif ftype == PING:
            self.pings.append(struct.unpack(">I", payload)[0])


def wait_all(streams, timeout=20):
    deadline = time.monotonic() + timeout
    for st in streams:
        assert st.closed.wait(max(0, deadline - time.monotonic())), f"stream {st.headers} not closed"
