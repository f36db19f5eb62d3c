package org.mdpgateway.mdp.internal;

import org.zeromq.ZContext;

/**
 * The ZeroMQ context of every {@link MdpClient} and {@link MdpWorker} in this process that was given
 * none. One context means one JeroMQ I/O thread and one reaper for all of them; a context each cost
 * two threads per worker, and waking a worker's own idle I/O thread for each request halved the
 * throughput of four sequential workers on two cores. Created on first use and never closed: its
 * threads are daemons, and each client and worker closes its own sockets.
 */
public final class SharedContext {
    private SharedContext() {}

    private static final class Holder {
        static final ZContext CONTEXT = new ZContext(1);
    }

    public static ZContext get() {
        return Holder.CONTEXT;
    }
}
