package org.mdpgateway.mdp;

import java.util.Objects;

/** An MDP/Worker command: frame 0 is "MDPW02". */
public sealed interface WorkerCommand extends MdpCommand
        permits WorkerCommand.Ready, WorkerCommand.Addressed, WorkerCommand.Heartbeat, WorkerCommand.Disconnect {

    MdpProtocol.WorkerCommandType type();

    /** A command that carries a client address and a body: REQUEST, PARTIAL or FINAL. */
    sealed interface Addressed extends WorkerCommand permits Request, Partial, Final {
        RoutingId client();

        Body body();
    }

    /** W: READY. The worker registers for exactly one service. */
    record Ready(String service) implements WorkerCommand {
        public Ready {
            MdpProtocol.requireValidServiceName(service);
        }

        @Override
        public MdpProtocol.WorkerCommandType type() {
            return MdpProtocol.WorkerCommandType.READY;
        }
    }

    /** B: REQUEST. The broker hands the worker a request from {@code client}. */
    record Request(RoutingId client, Body body) implements Addressed {
        public Request {
            checkClientAndBody(client, body);
        }

        @Override
        public MdpProtocol.WorkerCommandType type() {
            return MdpProtocol.WorkerCommandType.REQUEST;
        }
    }

    /** W: PARTIAL. A partial reply for {@code client}. */
    record Partial(RoutingId client, Body body) implements Addressed {
        public Partial {
            checkClientAndReply(client, body);
        }

        @Override
        public MdpProtocol.WorkerCommandType type() {
            return MdpProtocol.WorkerCommandType.PARTIAL;
        }
    }

    /** W: FINAL. The last reply for {@code client}. */
    record Final(RoutingId client, Body body) implements Addressed {
        public Final {
            checkClientAndReply(client, body);
        }

        @Override
        public MdpProtocol.WorkerCommandType type() {
            return MdpProtocol.WorkerCommandType.FINAL;
        }
    }

    /** HEARTBEAT, either way. */
    record Heartbeat() implements WorkerCommand {
        public static final Heartbeat INSTANCE = new Heartbeat();

        @Override
        public MdpProtocol.WorkerCommandType type() {
            return MdpProtocol.WorkerCommandType.HEARTBEAT;
        }
    }

    /** DISCONNECT, either way. */
    record Disconnect() implements WorkerCommand {
        public static final Disconnect INSTANCE = new Disconnect();

        @Override
        public MdpProtocol.WorkerCommandType type() {
            return MdpProtocol.WorkerCommandType.DISCONNECT;
        }
    }

    /**
     * MDP/0.1 and majortomo workers may reply with no body frame; the 18/MDP encoding then carries one
     * empty frame, as it needs at least one.
     */
    private static void checkClientAndReply(RoutingId client, Body body) {
        Objects.requireNonNull(client, "client");
        Objects.requireNonNull(body, "body");
    }

    private static void checkClientAndBody(RoutingId client, Body body) {
        Objects.requireNonNull(client, "client");
        Objects.requireNonNull(body, "body");
        if (body.isEmpty()) {
            // 18/MDP: "5 or more frames", so at least one body frame.
            throw new IllegalArgumentException("an addressed worker command needs at least one body frame");
        }
    }
}
