"""Connects (TCP) or sends one datagram (UDP) and prints what the server answered.

usage: peer_client.py tcp|udp ADDRESS PORT   (exit 1 on no answer within 3 s)
"""
import socket
import sys


def main():
    kind, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        if kind == "tcp":
            with socket.create_connection((address, port), timeout=3) as connection:
                print(connection.recv(200).decode().strip())
        else:
            with socket.socket(family, socket.SOCK_DGRAM) as client:
                client.settimeout(3)
                client.sendto(b"hello", (address, port))
                print(client.recvfrom(200)[0].decode().strip())
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
