package org.mdpgateway.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;

/**
 * Many SSE requests held open at once from one thread: raw non-blocking sockets, each sending one
 * POST and reading its stream until the {@code final} event. This is not a throughput generator
 * (that is {@link Wrk}); it only has to hold ten thousand connections cheaply and tell which ones
 * ended right.
 */
final class IdleStreams implements AutoCloseable {
    private static final byte[] FINAL = "event: final".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] ERROR = "event: error".getBytes(StandardCharsets.US_ASCII);

    private final Selector selector;
    private final byte[] request;
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(64 * 1024);
    private int open;
    private int finals;
    private int errors;
    private int closedEarly;

    IdleStreams(int port, String path) {
        String body = "hold";
        request = ("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nAccept: text/event-stream\r\n"
                + "Content-Type: text/plain\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
                .getBytes(StandardCharsets.US_ASCII);
        try {
            selector = Selector.open();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Opens {@code count} connections in batches, sending each request as it connects. */
    void open(int port, int count) {
        int batch = 250;
        for (int done = 0; done < count; done += batch) {
            for (int i = done; i < Math.min(count, done + batch); i++) {
                try {
                    SocketChannel channel = SocketChannel.open();
                    channel.configureBlocking(false);
                    channel.connect(new InetSocketAddress("127.0.0.1", port));
                    channel.register(selector, SelectionKey.OP_CONNECT, new Stream());
                    open++;
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot open connection " + i, e);
                }
            }
            pump(20);
        }
    }

    /** Handles whatever is ready, for up to {@code millis}. */
    void pump(long millis) {
        long end = System.nanoTime() + millis * 1_000_000;
        try {
            while (true) {
                long left = (end - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    return;
                }
                selector.select(left);
                Iterator<SelectionKey> ready = selector.selectedKeys().iterator();
                while (ready.hasNext()) {
                    SelectionKey key = ready.next();
                    ready.remove();
                    handle(key);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void handle(SelectionKey key) {
        SocketChannel channel = (SocketChannel) key.channel();
        Stream stream = (Stream) key.attachment();
        try {
            if (key.isConnectable()) {
                channel.finishConnect();
                channel.write(ByteBuffer.wrap(request)); // small: goes whole into an empty send buffer
                key.interestOps(SelectionKey.OP_READ);
                return;
            }
            readBuffer.clear();
            int n = channel.read(readBuffer);
            if (n < 0) {
                end(key, stream.finished ? 0 : 1);
                return;
            }
            readBuffer.flip();
            while (readBuffer.hasRemaining()) {
                stream.feed(readBuffer.get());
            }
            if (stream.finished) {
                if (stream.sawError) {
                    errors++;
                } else {
                    finals++;
                }
                end(key, 0);
            }
        } catch (IOException e) {
            end(key, 1);
        }
    }

    private void end(SelectionKey key, int early) {
        key.cancel();
        try {
            key.channel().close();
        } catch (IOException e) {
            // closing anyway
        }
        open--;
        closedEarly += early;
    }

    int open() {
        return open;
    }

    int finals() {
        return finals;
    }

    int errors() {
        return errors;
    }

    int closedEarly() {
        return closedEarly;
    }

    @Override
    public void close() {
        for (SelectionKey key : selector.keys()) {
            try {
                key.channel().close();
            } catch (IOException e) {
                // closing anyway
            }
        }
        try {
            selector.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    /** Scans one response for the event that ends it, byte by byte across reads. */
    private static final class Stream {
        int finalMatched;
        int errorMatched;
        boolean finished;
        boolean sawError;

        void feed(byte b) {
            finalMatched = b == FINAL[finalMatched] ? finalMatched + 1 : (b == FINAL[0] ? 1 : 0);
            errorMatched = b == ERROR[errorMatched] ? errorMatched + 1 : (b == ERROR[0] ? 1 : 0);
            if (finalMatched == FINAL.length) {
                finished = true;
                finalMatched = 0;
            }
            if (errorMatched == ERROR.length) {
                finished = true;
                sawError = true;
                errorMatched = 0;
            }
        }
    }
}
