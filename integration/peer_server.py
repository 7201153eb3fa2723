"""A test server that answers every TCP connection or UDP datagram with the address it
came from, so a test can tell whether NAT kept the client's address.

usage: peer_server.py tcp|udp ADDRESS PORT
"""
import socket
import sys


def main():
    kind, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    if kind == "tcp":
        server = socket.socket(family, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((address, port))
        server.listen(16)
        while True:
            connection, peer = server.accept()
            with connection:
                connection.sendall(f"peer={peer[0]}\n".encode())
    else:
        server = socket.socket(family, socket.SOCK_DGRAM)
        server.bind((address, port))
        while True:
            _, peer = server.recvfrom(2048)
            server.sendto(f"peer={peer[0]}\n".encode(), peer)


if __name__ == "__main__":
    main()
