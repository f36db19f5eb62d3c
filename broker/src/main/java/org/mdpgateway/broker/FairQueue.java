package org.mdpgateway.broker;

import org.mdpgateway.mdp.RoutingId;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.mdpgateway.broker.BrokerCore.Request;

/**
 * One service's waiting requests, served fairly across clients (18/MDP: the broker SHOULD serve
 * clients on a fair basis): each client's requests wait in their own line, in arrival order, and
 * the lines take turns, so a client that pipelines thousands of requests delays another client's
 * request by at most one of its own per worker turn. A request whose worker died waits in a line of
 * its own that goes first, since it has waited longest. A request submitted in this process has an
 * address of its own, so each one counts as one client.
 *
 * <p>Not thread safe: it belongs to the broker's event-loop thread, as {@link BrokerCore} does.
 */
final class FairQueue {
    /** Each client's line, in turn order: the first line's client goes next. */
    private final LinkedHashMap<RoutingId, ArrayDeque<Request>> lines = new LinkedHashMap<>();
    /** Requests given back by dead workers, served before any line, most recently given back first. */
    private final ArrayDeque<Request> resent = new ArrayDeque<>();
    private int size;

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    /** How many of {@code client}'s requests wait in its line. */
    int waitingFrom(RoutingId client) {
        ArrayDeque<Request> line = lines.get(client);
        return line == null ? 0 : line.size();
    }

    /** Puts a new request at the end of its client's line. */
    void add(Request request) {
        lines.computeIfAbsent(request.clientAddress, k -> new ArrayDeque<>()).addLast(request);
        size++;
    }

    /** Puts a request that a dead worker held ahead of every line. */
    void addResent(Request request) {
        resent.addFirst(request);
        size++;
    }

    /** The request to serve next, or null: a resent one, else the head of the next client's line. */
    Request poll() {
        Request request = resent.pollFirst();
        if (request != null) {
            size--;
            return request;
        }
        Iterator<Map.Entry<RoutingId, ArrayDeque<Request>>> turn = lines.entrySet().iterator();
        if (!turn.hasNext()) {
            return null;
        }
        Map.Entry<RoutingId, ArrayDeque<Request>> next = turn.next();
        ArrayDeque<Request> line = next.getValue();
        request = line.pollFirst();
        turn.remove();
        if (!line.isEmpty()) {
            lines.put(next.getKey(), line); // to the back of the turn order
        }
        size--;
        return request;
    }

    /** Removes {@code request} if it waits here. */
    boolean remove(Request request) {
        if (resent.remove(request)) {
            size--;
            return true;
        }
        ArrayDeque<Request> line = lines.get(request.clientAddress);
        if (line == null || !line.remove(request)) {
            return false;
        }
        if (line.isEmpty()) {
            lines.remove(request.clientAddress);
        }
        size--;
        return true;
    }

    /** Removes every waiting request that {@code test} accepts, calling {@code removed} on each after. */
    void removeIf(Predicate<Request> test, Consumer<Request> removed) {
        ArrayDeque<Request> gone = new ArrayDeque<>();
        resent.removeIf(r -> test.test(r) && gone.add(r));
        Iterator<ArrayDeque<Request>> eachLine = lines.values().iterator();
        while (eachLine.hasNext()) {
            ArrayDeque<Request> line = eachLine.next();
            line.removeIf(r -> test.test(r) && gone.add(r));
            if (line.isEmpty()) {
                eachLine.remove();
            }
        }
        size -= gone.size();
        gone.forEach(removed);
    }

    /** Every waiting request, in no particular order. */
    void forEach(Consumer<Request> action) {
        resent.forEach(action);
        lines.values().forEach(line -> line.forEach(action));
    }
}
