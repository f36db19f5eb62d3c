package org.mdpgateway.mdp;

/**
 * One MDP/0.2 command as an immutable value: an MDP/Client command or an MDP/Worker command.
 * {@link MdpCodec} turns commands into frames and back.
 */
public sealed interface MdpCommand permits ClientCommand, WorkerCommand {}
