package io.tlsgate.policy.inbound;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.inbound.Listener;
import io.tlsgate.core.inbound.MailFlowPolicy;
import io.tlsgate.core.inbound.SenderGroup;
import io.tlsgate.core.inbound.SenderPattern;
import io.tlsgate.core.inbound.SmtpRoute;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.Problem.FieldError;
import io.tlsgate.platform.problem.ProblemException;
import io.tlsgate.policy.change.PolicyTransactions;
import io.tlsgate.policy.inbound.InboundJson.ListenerView;
import io.tlsgate.policy.inbound.InboundJson.PolicyView;
import io.tlsgate.policy.inbound.InboundJson.RouteView;
import io.tlsgate.policy.inbound.InboundJson.SenderGroupView;
import io.tlsgate.policy.web.ChangeContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Inbound policy changes (docs/inbound-policy.md), each in one audited transaction, with the rules that
 * span several objects:
 * <ul>
 *   <li>no open relay: a sender group that matches every client (ALL, 0.0.0.0/0, ::/0, and
 *       the catch-all group) can never get a RELAY policy, from either side;</li>
 *   <li>nothing in use can go: a policy named by a group, a group in a HAT, the catch-all;</li>
 *   <li>two listeners cannot bind the same port on overlapping addresses.</li>
 * </ul>
 */
@ApplicationScoped
public class Inbound {

    private final PolicyTransactions tx;
    private final InboundStore store;

    Inbound(PolicyTransactions tx, InboundStore store) {
        this.tx = tx;
        this.store = store;
    }

    // --- mail flow policies

    public List<PolicyView> policies() {
        return tx.read((c, a) -> store.policies(c).stream().map(PolicyView::of).toList());
    }

    public PolicyView policy(String name) {
        return tx.read((c, a) -> store.policy(c, name).map(PolicyView::of).orElseThrow(() -> noPolicy(name)));
    }

    public PolicyView savePolicy(MailFlowPolicy p, boolean create, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            Optional<MailFlowPolicy> before = stored(store.policy(c, p.name()), create,
                    "a mail flow policy named '" + p.name() + "' exists already", () -> noPolicy(p.name()));
            if (p.behaviour().relays()) {
                List<String> open = new ArrayList<>();
                for (String g : store.groupsUsingPolicy(c, p.name())) {
                    store.group(c, g).filter(Inbound::matchesEveryone).ifPresent(x -> open.add(x.name()));
                }
                if (!open.isEmpty()) {
                    throw ProblemException.conflict("behaviour RELAY would make an open relay: sender group(s) " + open
                            + " use this policy and match every client");
                }
            }
            store.savePolicy(c, p, create);
            audit.record(action(create), "mail-flow-policy:" + p.name(),
                    before.map(PolicyView::of).orElse(null), PolicyView.of(p));
            return PolicyView.of(p);
        });
    }

    public void deletePolicy(String name, ChangeContext who) {
        tx.change(who, (c, audit) -> {
            MailFlowPolicy before = store.policy(c, name).orElseThrow(() -> noPolicy(name));
            List<String> users = store.groupsUsingPolicy(c, name);
            if (!users.isEmpty()) {
                throw ProblemException.conflict("mail flow policy '" + name + "' is used by sender group(s) " + users);
            }
            store.deletePolicy(c, name);
            audit.record("delete", "mail-flow-policy:" + name, PolicyView.of(before), null);
            return null;
        });
    }

    // --- sender groups

    public List<SenderGroupView> groups() {
        return tx.read((c, a) -> store.groups(c).stream().map(SenderGroupView::of).toList());
    }

    public SenderGroupView group(String name) {
        return tx.read((c, a) -> store.group(c, name).map(SenderGroupView::of).orElseThrow(() -> noGroup(name)));
    }

    public SenderGroupView saveGroup(SenderGroup g, boolean create, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            Optional<SenderGroup> before = stored(store.group(c, g.name()), create,
                    "a sender group named '" + g.name() + "' exists already", () -> noGroup(g.name()));
            MailFlowPolicy p = store.policy(c, g.policy()).orElseThrow(
                    () -> InvalidRequestException.field("policy", "no mail flow policy named '" + g.policy() + "'"));
            if (p.behaviour().relays() && matchesEveryone(g)) {
                String field = "policy";
                for (int i = 0; i < g.senders().size() && !g.isCatchAll(); i++) {
                    if (g.senders().get(i).matchesEveryone()) {
                        field = "senders[" + i + "]";
                        break;
                    }
                }
                throw InvalidRequestException.field(field, "a group that matches every client cannot use RELAY policy '"
                        + p.name() + "': that would be an open relay");
            }
            store.saveGroup(c, g, create);
            audit.record(action(create), "sender-group:" + g.name(),
                    before.map(SenderGroupView::of).orElse(null), SenderGroupView.of(g));
            return SenderGroupView.of(g);
        });
    }

    public void deleteGroup(String name, ChangeContext who) {
        if (SenderGroup.CATCH_ALL.equals(name)) {
            throw ProblemException.conflict("the catch-all sender group ALL cannot be deleted");
        }
        tx.change(who, (c, audit) -> {
            SenderGroup before = store.group(c, name).orElseThrow(() -> noGroup(name));
            List<String> users = store.listenersUsingGroup(c, name);
            if (!users.isEmpty()) {
                throw ProblemException.conflict("sender group '" + name + "' is in the host access table of " + users);
            }
            store.deleteGroup(c, name);
            audit.record("delete", "sender-group:" + name, SenderGroupView.of(before), null);
            return null;
        });
    }

    private static boolean matchesEveryone(SenderGroup g) {
        return g.isCatchAll() || g.matchesEveryone();
    }

    // --- listeners

    public List<ListenerView> listeners() {
        return tx.read((c, a) -> {
            List<ListenerView> out = new ArrayList<>();
            for (Listener l : store.listeners(c)) {
                out.add(view(c, l));
            }
            return out;
        });
    }

    public ListenerView listener(String name) {
        return tx.read((c, a) -> view(c, store.listener(c, name).orElseThrow(() -> noListener(name))));
    }

    public ListenerView saveListener(Listener l, boolean create, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            Optional<Listener> before = stored(store.listener(c, l.name()), create,
                    "a listener named '" + l.name() + "' exists already", () -> noListener(l.name()));
            for (Listener other : store.listeners(c)) {
                if (!other.name().equals(l.name()) && other.port() == l.port()
                        && overlaps(other.bindAddress(), l.bindAddress())) {
                    throw ProblemException.conflict("listener '" + other.name() + "' already binds " + other.bindAddress()
                            + " port " + other.port());
                }
            }
            store.saveListener(c, l, create);
            ListenerView after = view(c, l);
            audit.record(action(create), "listener:" + l.name(),
                    before.isPresent() ? view(c, before.get()) : null, after);
            return after;
        });
    }

    public void deleteListener(String name, ChangeContext who) {
        tx.change(who, (c, audit) -> {
            ListenerView before = view(c, store.listener(c, name).orElseThrow(() -> noListener(name)));
            store.deleteListener(c, name);
            audit.record("delete", "listener:" + name, before, null);
            return null;
        });
    }

    /** The listener's HAT: sender-group names in order, the catch-all ALL last. */
    public List<String> hat(String listener) {
        return tx.read((c, a) -> {
            store.listener(c, listener).orElseThrow(() -> noListener(listener));
            return withCatchAll(store.hat(c, listener));
        });
    }

    /** Replaces the HAT; the catch-all may be given as the last item or left out. */
    public List<String> saveHat(String listener, List<String> groups, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            store.listener(c, listener).orElseThrow(() -> noListener(listener));
            List<String> order = new ArrayList<>(groups);
            if (!order.isEmpty() && order.get(order.size() - 1).equals(SenderGroup.CATCH_ALL)) {
                order.remove(order.size() - 1);
            }
            List<FieldError> errors = new ArrayList<>();
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < order.size(); i++) {
                String g = order.get(i);
                String field = "hostAccessTable[" + i + "]";
                if (g.equals(SenderGroup.CATCH_ALL)) {
                    errors.add(new FieldError(field,
                            "the catch-all group ALL can only be last"));
                } else if (!seen.add(g)) {
                    errors.add(new FieldError(field, "'" + g + "' is listed twice"));
                } else if (store.group(c, g).isEmpty()) {
                    errors.add(new FieldError(field, "no sender group named '" + g + "'"));
                }
            }
            if (!errors.isEmpty()) {
                throw new InvalidRequestException(errors);
            }
            List<String> before = withCatchAll(store.hat(c, listener));
            store.saveHat(c, listener, order);
            List<String> after = withCatchAll(order);
            audit.record("update", "listener-hat:" + listener, before, after);
            return after;
        });
    }

    private ListenerView view(Connection c, Listener l) throws SQLException {
        return ListenerView.of(l, withCatchAll(store.hat(c, l.name())));
    }

    private static List<String> withCatchAll(List<String> hat) {
        List<String> out = new ArrayList<>(hat);
        out.add(SenderGroup.CATCH_ALL);
        return out;
    }

    private static boolean overlaps(String a, String b) {
        return a.equals(b) || isWildcard(a) || isWildcard(b);
    }

    private static boolean isWildcard(String address) {
        byte[] a = DestinationKey.parseAddress(address);
        if (a == null) {
            return false;
        }
        for (byte x : a) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    // --- recipient access table

    public List<String> rat() {
        return tx.read((c, a) -> store.rat(c));
    }

    public String addRat(String domain, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            if (!store.addRat(c, domain)) {
                throw ProblemException.conflict("'" + domain + "' is in the recipient access table already");
            }
            audit.record("create", "rat:" + domain, null, new InboundJson.RatEntry(domain));
            return domain;
        });
    }

    public List<String> replaceRat(List<String> domains, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            List<String> before = store.rat(c);
            store.replaceRat(c, domains);
            List<String> after = store.rat(c);
            audit.record("update", "rat", before, after);
            return after;
        });
    }

    public void deleteRat(String domain, ChangeContext who) {
        tx.change(who, (c, audit) -> {
            if (!store.deleteRat(c, domain)) {
                throw ProblemException.notFound("'" + domain + "' is not in the recipient access table");
            }
            audit.record("delete", "rat:" + domain, new InboundJson.RatEntry(domain), null);
            return null;
        });
    }

    // --- SMTP routes

    public List<RouteView> routes() {
        return tx.read((c, a) -> store.routes(c).stream().map(RouteView::of).toList());
    }

    public RouteView route(String domain) {
        return tx.read((c, a) -> store.route(c, domain).map(RouteView::of).orElseThrow(() -> noRoute(domain)));
    }

    public RouteView saveRoute(SmtpRoute r, boolean create, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            Optional<SmtpRoute> before = stored(store.route(c, r.domain()), create,
                    "an SMTP route for '" + r.domain() + "' exists already", () -> noRoute(r.domain()));
            store.saveRoute(c, r, create);
            audit.record(action(create), "smtp-route:" + r.domain(),
                    before.map(RouteView::of).orElse(null), RouteView.of(r));
            return RouteView.of(r);
        });
    }

    public void deleteRoute(String domain, ChangeContext who) {
        tx.change(who, (c, audit) -> {
            SmtpRoute before = store.route(c, domain).orElseThrow(() -> noRoute(domain));
            store.deleteRoute(c, domain);
            audit.record("delete", "smtp-route:" + domain, RouteView.of(before), null);
            return null;
        });
    }

    /**
     * What a create or replace finds stored under its name: 409 ({@code exists}) when creating
     * one that exists, the 404 of {@code missing} when replacing one that does not.
     */
    private static <T> Optional<T> stored(Optional<T> before, boolean create, String exists,
            Supplier<ProblemException> missing) {
        if (create && before.isPresent()) {
            throw ProblemException.conflict(exists);
        }
        if (!create && before.isEmpty()) {
            throw missing.get();
        }
        return before;
    }

    private static String action(boolean create) {
        return create ? "create" : "update";
    }

    private static ProblemException noPolicy(String name) {
        return ProblemException.notFound("no mail flow policy named '" + name + "'");
    }

    private static ProblemException noGroup(String name) {
        return ProblemException.notFound("no sender group named '" + name + "'");
    }

    private static ProblemException noListener(String name) {
        return ProblemException.notFound("no listener named '" + name + "'");
    }

    private static ProblemException noRoute(String domain) {
        return ProblemException.notFound("no SMTP route for '" + domain + "'");
    }
}
