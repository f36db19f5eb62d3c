"""An 18/MDP v0.2 client on libzmq (pyzmq) over CURVE: sends one REQUEST and prints each reply
frame of the FINAL, or 'nothing' when no reply comes within SECONDS.
Usage: curve_client.py ENDPOINT BROKER_PUBLIC_CERT OWN_SECRET_CERT SERVICE BODY SECONDS"""
import sys

import zmq
import zmq.auth

endpoint, broker_cert, own_cert, service, body, seconds = sys.argv[1:7]
broker_public, _ = zmq.auth.load_certificate(broker_cert)
own_public, own_secret = zmq.auth.load_certificate(own_cert)
ctx = zmq.Context()
client = ctx.socket(zmq.DEALER)
client.curve_serverkey = broker_public
client.curve_publickey = own_public
client.curve_secretkey = own_secret
client.linger = 0
client.connect(endpoint)
client.send_multipart([b"MDPC02", b"\x01", service.encode(), body.encode()])
deadline_ms = int(float(seconds) * 1000)
while True:
    if not client.poll(deadline_ms):
        print("nothing", flush=True)
        break
    frames = client.recv_multipart()
    if frames[1] == b"\x03":  # FINAL
        print("final " + b" ".join(frames[3:]).decode(), flush=True)
        break
client.close()
ctx.term()
