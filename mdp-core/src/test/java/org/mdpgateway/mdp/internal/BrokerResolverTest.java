package org.mdpgateway.mdp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class BrokerResolverTest {
    @Test
    void aNameStandsForEachIpv4Address_otherEndpointsForThemselves_andAFailedLookupForTheLastAnswer()
            throws Exception {
        AtomicReference<List<InetAddress>> answer = new AtomicReference<>(List.of(InetAddress.getByName("10.0.0.1"),
                InetAddress.getByName("::1"), InetAddress.getByName("10.0.0.2")));
        AtomicReference<Boolean> down = new AtomicReference<>(false);
        BrokerResolver resolver = new BrokerResolver(List.of("tcp://brokers.example:5555", "inproc://local",
                "tcp://*:7000"), host -> {
                    if (down.get()) {
                        throw new UnknownHostException(host);
                    }
                    assertEquals("brokers.example", host);
                    return answer.get();
                }, "test");
        Set<String> all = resolver.resolveAll();
        assertEquals(List.of("tcp://10.0.0.1:5555", "tcp://10.0.0.2:5555", "inproc://local", "tcp://*:7000"),
                List.copyOf(all), "IPv6 left out, endpoints without a host name as given, in order");
        down.set(true);
        assertEquals(all, resolver.resolveAll(), "a failed lookup keeps what the name stood for");
        down.set(false);
        answer.set(List.of());
        assertEquals(List.of("inproc://local", "tcp://*:7000"), List.copyOf(resolver.resolveAll()),
                "a name with no address stands for none");
    }

    @Test
    void ipLiteralsOfEitherFamily_standForThemselves_withoutALookup() {
        BrokerResolver resolver = new BrokerResolver(List.of("tcp://[::1]:5555", "tcp://10.1.2.3:6000",
                "tcp://[fe80::1%25eth0]:7000", "tcp://brokers.example:5555"), host -> {
                    assertEquals("brokers.example", host, "only a name is looked up");
                    return List.of(InetAddress.getByName("10.0.0.9"));
                }, "test");
        assertEquals(List.of("tcp://[::1]:5555", "tcp://10.1.2.3:6000", "tcp://[fe80::1%25eth0]:7000",
                "tcp://10.0.0.9:5555"), List.copyOf(resolver.resolveAll()));
    }
}
