"""A small raw HTTP/1.1 client for berthd's unix socket: bodies of any size (curl's argv
cannot carry them) and bytes no well-behaved client would send."""
import json
import socket


def decode_chunked(data):
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return out


def request(socket_path, method, target, body=None, headers=None, timeout=30):
    """One request on its own connection; returns (status, parsed JSON or bytes).
    `body` is bytes, or any other value to send as JSON."""
    if body is not None and not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body).encode()
    head = [f"{method} {target} HTTP/1.1", "Host: berth", "Connection: close"]
    for name, value in (headers or {}).items():
        head.append(f"{name}: {value}")
    if body is not None:
        head.append("Content-Type: application/json")
        head.append(f"Content-Length: {len(body)}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(socket_path)
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b""))
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    if not data:
        raise ConnectionAbortedError("the connection closed without an answer")
    raw_head, _, payload = data.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    if any(line.lower().startswith("transfer-encoding:") and "chunked" in line.lower() for line in lines[1:]):
        payload = decode_chunked(payload)
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        return status, payload
