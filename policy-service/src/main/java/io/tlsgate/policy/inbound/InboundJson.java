package io.tlsgate.policy.inbound;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.DestinationSettings;
import io.tlsgate.core.dns.DomainName;
import io.tlsgate.core.inbound.Behaviour;
import io.tlsgate.core.inbound.DomainTable;
import io.tlsgate.core.tls.InboundTls;
import io.tlsgate.core.inbound.Listener;
import io.tlsgate.core.inbound.MailFlowPolicy;
import io.tlsgate.core.inbound.SenderAddress;
import io.tlsgate.core.inbound.SenderGroup;
import io.tlsgate.core.inbound.SenderPattern;
import io.tlsgate.core.inbound.SmtpRoute;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.json.JsonFields;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The JSON shapes of the inbound REST API and their parsing. Every problem is collected with
 * its field name ({@code senders[2]}, {@code port}) into one 400 response. Create and replace
 * take the same body: optional fields that are absent take their defaults.
 */
public final class InboundJson {

    private InboundJson() {}

    static final Pattern NAME = DestinationSettings.PROFILE_NAME;
    static final String NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit";

    /** A listener as the API shows it. */
    public record ListenerView(String name, String bindAddress, int port, String hostname, int maxConcurrentConnections,
            int maxConnectionsPerClient, long maxMessageSizeBytes, String certificateSlot, List<String> hostAccessTable) {

        static ListenerView of(Listener l, List<String> hat) {
            return new ListenerView(l.name(), l.bindAddress(), l.port(), l.hostname(), l.maxConcurrentConnections(),
                    l.maxConnectionsPerClient(), l.maxMessageSizeBytes(), l.certificateSlot(), hat);
        }
    }

    /** A sender group as the API shows it. */
    public record SenderGroupView(String name, String policy, List<String> senders, boolean catchAll) {
        static SenderGroupView of(SenderGroup g) {
            return new SenderGroupView(g.name(), g.policy(), g.senders().stream().map(SenderPattern::text).toList(),
                    g.isCatchAll());
        }
    }

    /** A mail flow policy as the API shows it. */
    public record PolicyView(String name, Behaviour behaviour, InboundTls tls, List<String> tlsMandatorySenders,
            int maxRecipientsPerMessage, int maxMessagesPerConnection) {
        static PolicyView of(MailFlowPolicy p) {
            return new PolicyView(p.name(), p.behaviour(), p.tls(),
                    p.tlsMandatorySenders().stream().map(SenderAddress::text).toList(), p.maxRecipientsPerMessage(),
                    p.maxMessagesPerConnection());
        }
    }

    /** An SMTP route as the API shows it. */
    public record RouteView(String domain, List<String> hops) {
        static RouteView of(SmtpRoute r) {
            return new RouteView(r.domain(), r.hopTexts());
        }
    }

    /** A recipient access table entry. */
    public record RatEntry(String domain) {}

    private static final Set<String> LISTENER_FIELDS = Set.of("name", "bindAddress", "port", "hostname",
            "maxConcurrentConnections", "maxConnectionsPerClient", "maxMessageSizeBytes", "certificateSlot",
            "hostAccessTable");

    /** A listener; {@code certificateSlot} and {@code hostAccessTable} are accepted but read-only here. */
    static Listener listener(JsonNode body, String pathName) {
        JsonFields f = JsonFields.of(body, LISTENER_FIELDS);
        String name = name(f, pathName);
        String bind = f.string("bindAddress", Pattern.compile("[0-9A-Fa-f:.]{2,45}"), "an IP address such as 0.0.0.0 or ::");
        if (bind != null) {
            byte[] a = DestinationKey.parseAddress(bind);
            if (a == null) {
                f.error("bindAddress", "must be an IP address such as 0.0.0.0 or ::");
            } else {
                bind = DestinationKey.format(a);
            }
        }
        Integer port = f.integer("port", 1, 65535);
        String hostname = f.string("hostname", Pattern.compile(".{1,253}"), "a host name");
        if (hostname != null) {
            try {
                hostname = DomainName.normalise(hostname);
            } catch (IllegalArgumentException e) {
                f.error("hostname", e.getMessage());
            }
        }
        Integer max = f.integer("maxConcurrentConnections", 1, Listener.MAX_CONNECTIONS);
        Integer perClient = f.integer("maxConnectionsPerClient", 1, Listener.MAX_CONNECTIONS);
        Long size = longValue(f, body, "maxMessageSizeBytes", Listener.MIN_MESSAGE_SIZE, Listener.MAX_MESSAGE_SIZE);
        f.require("port", "hostname");
        int maxValue = max == null ? Listener.DEFAULT_MAX_CONNECTIONS : max;
        int perClientValue = perClient == null ? Math.min(Listener.DEFAULT_MAX_CONNECTIONS_PER_CLIENT, maxValue) : perClient;
        if (perClientValue > maxValue) {
            f.error("maxConnectionsPerClient", "must not be more than maxConcurrentConnections (" + maxValue + ")");
        }
        if (body != null && body.has("certificateSlot") && name != null
                && !("listener:" + name).equals(body.get("certificateSlot").asText())) {
            f.error("certificateSlot", "is always listener:" + name + " (assign certificates in cert-service)");
        }
        f.check();
        return new Listener(name, bind == null ? "0.0.0.0" : bind, port, hostname, maxValue, perClientValue,
                size == null ? Listener.DEFAULT_MAX_MESSAGE_SIZE : size);
    }

    private static final Set<String> GROUP_FIELDS = Set.of("name", "policy", "senders", "catchAll");

    static SenderGroup group(JsonNode body, String pathName) {
        JsonFields f = JsonFields.of(body, GROUP_FIELDS);
        String name = name(f, pathName);
        String policy = f.string("policy", NAME, "the name of a mail flow policy");
        List<SenderPattern> senders = f.list("senders", SenderGroup.MAX_SENDERS, SenderPattern::parse);
        f.bool("catchAll");
        f.require("policy");
        if (SenderGroup.CATCH_ALL.equals(name)) {
            if (senders != null && !senders.equals(List.of(SenderPattern.ALL))) {
                f.error("senders", "the catch-all group ALL always matches every client; only its policy can change");
            }
            senders = List.of(SenderPattern.ALL);
        }
        f.check();
        return new SenderGroup(name, senders == null ? List.of() : senders, policy);
    }

    private static final Set<String> POLICY_FIELDS = Set.of("name", "behaviour", "tls", "tlsMandatorySenders",
            "maxRecipientsPerMessage", "maxMessagesPerConnection");

    static MailFlowPolicy policy(JsonNode body, String pathName) {
        JsonFields f = JsonFields.of(body, POLICY_FIELDS);
        String name = name(f, pathName);
        Behaviour behaviour = f.enumValue("behaviour", Behaviour.class);
        InboundTls tls = f.enumValue("tls", InboundTls.class);
        List<SenderAddress> mandatory = f.list("tlsMandatorySenders", MailFlowPolicy.MAX_MANDATORY_SENDERS,
                SenderAddress::parse);
        Integer rcpts = f.integer("maxRecipientsPerMessage", 1, MailFlowPolicy.MAX_RECIPIENTS);
        Integer msgs = f.integer("maxMessagesPerConnection", 1, MailFlowPolicy.MAX_MESSAGES);
        f.require("behaviour", "tls");
        if (tls != null && mandatory != null && !mandatory.isEmpty() && !tls.allowsMandatorySenders()) {
            f.error("tlsMandatorySenders", "only with tls PREFERRED or PREFERRED_VERIFY (with " + tls
                    + (tls.requiresTls() ? " every sender must use TLS already)" : " there is no TLS to require)"));
        }
        f.check();
        return new MailFlowPolicy(name, behaviour, tls, mandatory == null ? List.of() : mandatory,
                rcpts == null ? MailFlowPolicy.DEFAULT_MAX_RECIPIENTS : rcpts,
                msgs == null ? MailFlowPolicy.DEFAULT_MAX_MESSAGES : msgs);
    }

    private static final Set<String> ROUTE_FIELDS = Set.of("domain", "hops");

    static SmtpRoute route(JsonNode body, String pathDomain) {
        JsonFields f = JsonFields.of(body, ROUTE_FIELDS);
        String domain = pathDomain;
        String given = f.string("domain", Pattern.compile(".{1,254}"), "a domain, .domain or ALL");
        if (given != null) {
            try {
                String key = DomainTable.parseKey(given, true).text();
                if (pathDomain != null && !pathDomain.equals(key)) {
                    f.error("domain", "does not match the domain in the path");
                }
                domain = key;
            } catch (IllegalArgumentException e) {
                f.error("domain", e.getMessage());
            }
        } else if (pathDomain == null) {
            f.require("domain");
        }
        List<String> hops = f.list("hops", SmtpRoute.MAX_HOPS + 1, s -> s);
        f.require("hops");
        SmtpRoute route = null;
        if (hops != null) {
            try {
                route = SmtpRoute.of(domain, hops);
            } catch (SmtpRoute.HopException e) {
                f.error("hops[" + e.index() + "]", e.getMessage());
            } catch (IllegalArgumentException e) {
                f.error("hops", e.getMessage());
            }
        }
        f.check();
        return route;
    }

    /** A RAT key ({@code example.com}, {@code .example.com}); 400 naming {@code field} when it is not one. */
    static String ratKey(String raw, String field) {
        try {
            return DomainTable.parseKey(raw, false).text();
        } catch (IllegalArgumentException e) {
            throw InvalidRequestException.field(field, e.getMessage());
        }
    }

    /** A {@code domain} query parameter, normalised; 400 naming it when absent or not a domain. */
    static String domainParam(String raw) {
        if (raw == null || raw.isBlank()) {
            throw InvalidRequestException.field("domain", "required");
        }
        try {
            return DomainName.normalise(raw);
        } catch (IllegalArgumentException e) {
            throw InvalidRequestException.field("domain", e.getMessage());
        }
    }

    static List<String> ratList(JsonNode body) {
        JsonFields f = JsonFields.of(body, Set.of("domains"));
        List<String> domains = f.list("domains", 100_000, s -> DomainTable.parseKey(s, false).text());
        f.require("domains");
        f.check();
        return domains.stream().distinct().toList();
    }

    private static String name(JsonFields f, String pathName) {
        String name = f.string("name", NAME, NAME_RULE);
        if (pathName != null) {
            if (name != null && !name.equals(pathName)) {
                f.error("name", "does not match the name in the path");
            }
            return pathName;
        }
        f.require("name");
        return name;
    }

    private static Long longValue(JsonFields f, JsonNode body, String name, long min, long max) {
        if (body == null || !body.isObject() || !body.has(name)) {
            return null;
        }
        JsonNode n = body.get(name);
        if (!n.isIntegralNumber() || !n.canConvertToLong() || n.asLong() < min || n.asLong() > max) {
            f.error(name, "must be a whole number between " + min + " and " + max);
            return null;
        }
        return n.asLong();
    }
}
