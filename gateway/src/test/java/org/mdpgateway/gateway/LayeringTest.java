package org.mdpgateway.gateway;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.simpleName;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering of the three modules, checked on their compiled classes (this module's classpath
 * holds them all). A rule here fails the build on a forbidden edge:
 *
 * <pre>
 *   gateway ──▶ broker (public API) ──▶ mdp (wire model, codecs)
 *      │            │                     ▲
 *      │            └──▶ mdp.internal ────┘   (sockets, loop, logging defaults)
 *      └──▶ mdp.worker (demo workers) ──▶ mdp.internal
 * </pre>
 */
class LayeringTest {
    private static final String MDP = "org.mdpgateway.mdp";
    private static JavaClasses classes;

    @BeforeAll
    static void importOurClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("org.mdpgateway");
        // The rules below would pass on nothing: make sure every module was found.
        for (String name : List.of(MDP + ".MdpCodec", MDP + ".client.MdpClient", MDP + ".worker.MdpWorker",
                MDP + ".internal.EventLoop", "org.mdpgateway.broker.BrokerCore", "org.mdpgateway.gateway.HttpApi")) {
            assertTrue(classes.contain(name), name + " was not imported");
        }
    }

    @Test
    void theWireModelAndCodecs_useNoSocketsAndNoLibraryAboveThem() {
        noClasses().that().resideInAPackage(MDP)
                .should().dependOnClassesThat().resideInAnyPackage("org.zeromq..", "zmq..", MDP + ".client..",
                        MDP + ".worker..", MDP + ".internal..", "org.mdpgateway.broker..", "org.mdpgateway.gateway..")
                .because("the codec is pure: frames in, commands out (STYLE 3)")
                .check(classes);
    }

    @Test
    void theClientAndTheWorker_areIndependentLibraries() {
        noClasses().that().resideInAPackage(MDP + ".client..").should().dependOnClassesThat()
                .resideInAPackage(MDP + ".worker..").check(classes);
        noClasses().that().resideInAPackage(MDP + ".worker..").should().dependOnClassesThat()
                .resideInAPackage(MDP + ".client..").check(classes);
    }

    @Test
    void mdpCore_knowsNothingOfTheBrokerOrTheGateway() {
        noClasses().that().resideInAPackage(MDP + "..").should().dependOnClassesThat()
                .resideInAnyPackage("org.mdpgateway.broker..", "org.mdpgateway.gateway..").check(classes);
    }

    @Test
    void theBroker_neverSeesHttp_norTheClientAndWorkerLibraries() {
        noClasses().that().resideInAPackage("org.mdpgateway.broker..").should().dependOnClassesThat()
                .resideInAnyPackage("io.javalin..", "org.eclipse.jetty..", "jakarta.servlet..",
                        "com.fasterxml.jackson..", "org.mdpgateway.gateway..", MDP + ".client..", MDP + ".worker..")
                .check(classes);
    }

    @Test
    void internalPackages_areUsedByOtherModulesOnlyWhereAllowed() {
        // The broker owns a socket: of mdp-core's internals it uses the socket adapter, the logging
        // defaults and the argument checks.
        noClasses().that().resideInAPackage("org.mdpgateway.broker..").should().dependOnClassesThat(
                resideInAPackage(MDP + ".internal..").and(not(simpleName("MdpSockets").or(simpleName("LogDefaults"))
                        .or(simpleName("Require")))))
                .check(classes);
        // The gateway owns no ZeroMQ socket: it uses the logging defaults and the argument checks only.
        noClasses().that().resideInAPackage("org.mdpgateway.gateway..").should().dependOnClassesThat(
                resideInAPackage(MDP + ".internal..").and(not(simpleName("LogDefaults").or(simpleName("Require")))))
                .check(classes);
    }

    @Test
    void theGateway_reachesZeroMqOnlyThroughTheBrokerAndTheWorkerLibrary() {
        noClasses().that().resideInAPackage("org.mdpgateway.gateway..")
                .and().doNotHaveSimpleName("Gateway").and().doNotHaveSimpleName("DemoWorkers")
                .should().dependOnClassesThat().resideInAnyPackage("org.zeromq..", "zmq..")
                .because("only the composition root hands a ZeroMQ context to the broker and the demo workers")
                .check(classes);
    }

    @Test
    void theGateway_seesTheBrokerThroughItsSeam() {
        noClasses().that().resideInAPackage("org.mdpgateway.gateway..").and().doNotHaveSimpleName("Gateway")
                .should().dependOnClassesThat().haveFullyQualifiedName("org.mdpgateway.broker.Broker")
                .because("routes and encoders use RequestBroker, which tests fake; only the composition root "
                        + "starts the real one")
                .check(classes);
    }

    @Test
    void noPackageCycles() {
        slices().matching("org.mdpgateway.(**)").should().beFreeOfCycles().check(classes);
    }

}
