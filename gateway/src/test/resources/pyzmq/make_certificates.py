"""Writes NAME.key and NAME.key_secret into DIR with pyzmq's own zmq.auth.create_certificates."""
import os
import sys

import zmq.auth

os.makedirs(sys.argv[1], exist_ok=True)
zmq.auth.create_certificates(sys.argv[1], sys.argv[2])
