package org.mdpgateway.mdp;

import java.util.Objects;

/** An MDP/Client command: frame 0 is "MDPC02". Every one names a service and carries a body. */
public sealed interface ClientCommand extends MdpCommand
        permits ClientCommand.Request, ClientCommand.Partial, ClientCommand.Final {

    MdpProtocol.ClientCommandType type();

    String service();

    Body body();

    /** C: REQUEST. The client asks {@code service} to handle {@code body}. */
    record Request(String service, Body body) implements ClientCommand {
        public Request {
            checkServiceAndBody(service, body);
        }

        @Override
        public MdpProtocol.ClientCommandType type() {
            return MdpProtocol.ClientCommandType.REQUEST;
        }
    }

    /** B: PARTIAL. One of zero or more partial replies from {@code service}. */
    record Partial(String service, Body body) implements ClientCommand {
        public Partial {
            checkServiceAndReply(service, body);
        }

        @Override
        public MdpProtocol.ClientCommandType type() {
            return MdpProtocol.ClientCommandType.PARTIAL;
        }
    }

    /** B: FINAL. The last reply from {@code service}; nothing follows it for this request. */
    record Final(String service, Body body) implements ClientCommand {
        public Final {
            checkServiceAndReply(service, body);
        }

        @Override
        public MdpProtocol.ClientCommandType type() {
            return MdpProtocol.ClientCommandType.FINAL;
        }
    }

    /**
     * A reply may relay an empty body from a worker of a dialect that allows one; the 18/MDP encoding
     * then carries one empty frame, as it needs at least one body frame.
     */
    private static void checkServiceAndReply(String service, Body body) {
        MdpProtocol.requireValidServiceName(service);
        Objects.requireNonNull(body, "body");
    }

    private static void checkServiceAndBody(String service, Body body) {
        MdpProtocol.requireValidServiceName(service);
        Objects.requireNonNull(body, "body");
        if (body.isEmpty()) {
            // 18/MDP: "4 or more frames", so at least one body frame.
            throw new IllegalArgumentException("a client command needs at least one body frame");
        }
    }
}
