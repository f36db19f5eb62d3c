"""An 18/MDP v0.2 worker on libzmq (pyzmq), speaking CURVE to the broker: a third-party peer for
the tests. Usage: curve_worker.py ENDPOINT BROKER_PUBLIC_CERT OWN_SECRET_CERT SERVICE SECONDS

Answers every REQUEST with one PARTIAL (the body as it came) and a FINAL (the body upper-cased),
answers heartbeats, and exits on DISCONNECT or after SECONDS."""
import sys
import time

import zmq
import zmq.auth

endpoint, broker_cert, own_cert, service, seconds = sys.argv[1:6]
broker_public, _ = zmq.auth.load_certificate(broker_cert)
own_public, own_secret = zmq.auth.load_certificate(own_cert)

ctx = zmq.Context()
worker = ctx.socket(zmq.DEALER)
worker.curve_serverkey = broker_public
worker.curve_publickey = own_public
worker.curve_secretkey = own_secret
worker.linger = 0
worker.connect(endpoint)
worker.send_multipart([b"MDPW02", b"\x01", service.encode()])
print("ready", flush=True)

deadline = time.time() + float(seconds)
last_sent = time.time()
while time.time() < deadline:
    if worker.poll(200):
        frames = worker.recv_multipart()
        command = frames[1]
        if command == b"\x02":  # REQUEST: client address, empty, body
            client, body = frames[2], frames[4:]
            worker.send_multipart([b"MDPW02", b"\x03", client, b""] + body)
            worker.send_multipart([b"MDPW02", b"\x04", client, b""] + [f.upper() for f in body])
            last_sent = time.time()
        elif command == b"\x06":  # DISCONNECT
            print("disconnected", flush=True)
            break
    if time.time() - last_sent > 0.5:
        worker.send_multipart([b"MDPW02", b"\x05"])
        last_sent = time.time()
worker.close()
ctx.term()
