package io.tlsgate.policy.inbound;

import io.tlsgate.core.inbound.Behaviour;
import io.tlsgate.core.inbound.InboundIndex;
import io.tlsgate.core.tls.InboundTls;
import io.tlsgate.core.inbound.Listener;
import io.tlsgate.core.inbound.MailFlowPolicy;
import io.tlsgate.core.inbound.SenderAddress;
import io.tlsgate.core.inbound.SenderGroup;
import io.tlsgate.core.inbound.SenderPattern;
import io.tlsgate.core.inbound.SmtpRoute;
import io.tlsgate.policy.resolve.InboundTables;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** SQL for the inbound tables of the {@code policy} schema (V3__inbound.sql). No validation here. */
@ApplicationScoped
public class InboundStore implements InboundTables {

    private static final String POLICY_COLUMNS = "name, behaviour, tls, tls_mandatory_senders, "
            + "max_recipients_per_message, max_messages_per_connection";
    private static final String LISTENER_COLUMNS = "name, bind_address, port, hostname, max_connections, "
            + "max_connections_per_client, max_message_size";

    /** Everything, as one consistent in-memory snapshot (call inside a repeatable-read transaction). */
    @Override
    public InboundIndex load(Connection c) throws SQLException {
        Map<String, List<String>> hats = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("select listener, sender_group from listener_hat order by listener, position");
                ResultSet r = ps.executeQuery()) {
            while (r.next()) {
                hats.computeIfAbsent(r.getString(1), k -> new ArrayList<>()).add(r.getString(2));
            }
        }
        List<String> rat = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("select domain from rat_entry"); ResultSet r = ps.executeQuery()) {
            while (r.next()) {
                rat.add(r.getString(1));
            }
        }
        return InboundIndex.of(listeners(c), groups(c), policies(c), hats, rat, routes(c));
    }

    // --- mail flow policies

    public List<MailFlowPolicy> policies(Connection c) throws SQLException {
        return query(c, "select " + POLICY_COLUMNS + " from mail_flow_policy order by name", null, InboundStore::policy);
    }

    public Optional<MailFlowPolicy> policy(Connection c, String name) throws SQLException {
        return query(c, "select " + POLICY_COLUMNS + " from mail_flow_policy where name = ?", name, InboundStore::policy)
                .stream().findFirst();
    }

    /** Inserts or updates; returns false when {@code insert} and the name exists. */
    public boolean savePolicy(Connection c, MailFlowPolicy p, boolean insert) throws SQLException {
        String sql = insert
                ? "insert into mail_flow_policy (" + POLICY_COLUMNS + ") values (?, ?, ?, ?, ?, ?) on conflict (name) do nothing"
                : "update mail_flow_policy set behaviour = ?, tls = ?, tls_mandatory_senders = ?, "
                        + "max_recipients_per_message = ?, max_messages_per_connection = ? where name = ?";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            int i = 1;
            if (insert) {
                ps.setString(i++, p.name());
            }
            ps.setString(i++, p.behaviour().name());
            ps.setString(i++, p.tls().name());
            ps.setArray(i++, c.createArrayOf("text", p.tlsMandatorySenders().stream().map(SenderAddress::text).toArray()));
            ps.setInt(i++, p.maxRecipientsPerMessage());
            ps.setInt(i++, p.maxMessagesPerConnection());
            if (!insert) {
                ps.setString(i, p.name());
            }
            return ps.executeUpdate() == 1;
        }
    }

    public void deletePolicy(Connection c, String name) throws SQLException {
        deleteRow(c, "mail_flow_policy", "name", name);
    }

    // --- sender groups

    public List<SenderGroup> groups(Connection c) throws SQLException {
        return query(c, "select name, policy, senders from sender_group order by name", null, InboundStore::group);
    }

    public Optional<SenderGroup> group(Connection c, String name) throws SQLException {
        return query(c, "select name, policy, senders from sender_group where name = ?", name, InboundStore::group)
                .stream().findFirst();
    }

    public List<String> groupsUsingPolicy(Connection c, String policy) throws SQLException {
        return query(c, "select name from sender_group where policy = ? order by name", policy, r -> r.getString(1));
    }

    public boolean saveGroup(Connection c, SenderGroup g, boolean insert) throws SQLException {
        String sql = insert ? "insert into sender_group (policy, senders, name) values (?, ?, ?) on conflict (name) do nothing"
                : "update sender_group set policy = ?, senders = ? where name = ?";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, g.policy());
            ps.setArray(2, c.createArrayOf("text", g.senders().stream().map(SenderPattern::text).toArray()));
            ps.setString(3, g.name());
            return ps.executeUpdate() == 1;
        }
    }

    public void deleteGroup(Connection c, String name) throws SQLException {
        deleteRow(c, "sender_group", "name", name);
    }

    // --- listeners and their host access tables

    public List<Listener> listeners(Connection c) throws SQLException {
        return query(c, "select " + LISTENER_COLUMNS + " from listener order by name", null, InboundStore::listener);
    }

    public Optional<Listener> listener(Connection c, String name) throws SQLException {
        return query(c, "select " + LISTENER_COLUMNS + " from listener where name = ?", name, InboundStore::listener)
                .stream().findFirst();
    }

    public boolean saveListener(Connection c, Listener l, boolean insert) throws SQLException {
        String sql = insert
                ? "insert into listener (bind_address, port, hostname, max_connections, max_connections_per_client, "
                        + "max_message_size, name) values (?, ?, ?, ?, ?, ?, ?) on conflict (name) do nothing"
                : "update listener set bind_address = ?, port = ?, hostname = ?, max_connections = ?, "
                        + "max_connections_per_client = ?, max_message_size = ? where name = ?";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, l.bindAddress());
            ps.setInt(2, l.port());
            ps.setString(3, l.hostname());
            ps.setInt(4, l.maxConcurrentConnections());
            ps.setInt(5, l.maxConnectionsPerClient());
            ps.setLong(6, l.maxMessageSizeBytes());
            ps.setString(7, l.name());
            return ps.executeUpdate() == 1;
        }
    }

    /** Deletes a listener (its host access table goes with it). */
    public void deleteListener(Connection c, String name) throws SQLException {
        deleteRow(c, "listener", "name", name);
    }

    public List<String> hat(Connection c, String listener) throws SQLException {
        return query(c, "select sender_group from listener_hat where listener = ? order by position", listener,
                r -> r.getString(1));
    }

    public void saveHat(Connection c, String listener, List<String> groups) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("delete from listener_hat where listener = ?")) {
            ps.setString(1, listener);
            ps.executeUpdate();
        }
        if (groups.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement(
                "insert into listener_hat (listener, position, sender_group) "
                        + "select ?, g.ord, g.name from unnest(?::text[]) with ordinality as g(name, ord)")) {
            ps.setString(1, listener);
            ps.setArray(2, c.createArrayOf("text", groups.toArray()));
            ps.executeUpdate();
        }
    }

    /** Listeners whose HAT names the group. */
    public List<String> listenersUsingGroup(Connection c, String group) throws SQLException {
        return query(c, "select listener from listener_hat where sender_group = ? order by listener", group,
                r -> r.getString(1));
    }

    // --- recipient access table and routes

    public List<String> rat(Connection c) throws SQLException {
        return query(c, "select domain from rat_entry order by domain", null, r -> r.getString(1));
    }

    public boolean addRat(Connection c, String domain) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("insert into rat_entry values (?) on conflict do nothing")) {
            ps.setString(1, domain);
            return ps.executeUpdate() == 1;
        }
    }

    public void replaceRat(Connection c, List<String> domains) throws SQLException {
        delete(c, "delete from rat_entry where domain <> all(?)", c.createArrayOf("text", domains.toArray()));
        try (PreparedStatement ps = c.prepareStatement("insert into rat_entry select unnest(?::text[]) on conflict do nothing")) {
            ps.setArray(1, c.createArrayOf("text", domains.toArray()));
            ps.executeUpdate();
        }
    }

    /** Removes a domain; false when it was not in the table. */
    public boolean deleteRat(Connection c, String domain) throws SQLException {
        return deleteRow(c, "rat_entry", "domain", domain);
    }

    public List<SmtpRoute> routes(Connection c) throws SQLException {
        return query(c, "select domain, hops from smtp_route order by domain", null, InboundStore::route);
    }

    public Optional<SmtpRoute> route(Connection c, String domain) throws SQLException {
        return query(c, "select domain, hops from smtp_route where domain = ?", domain, InboundStore::route).stream().findFirst();
    }

    public boolean saveRoute(Connection c, SmtpRoute r, boolean insert) throws SQLException {
        String sql = insert ? "insert into smtp_route (hops, domain) values (?, ?) on conflict (domain) do nothing"
                : "update smtp_route set hops = ? where domain = ?";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf("text", r.hopTexts().toArray()));
            ps.setString(2, r.domain());
            return ps.executeUpdate() == 1;
        }
    }

    public void deleteRoute(Connection c, String domain) throws SQLException {
        deleteRow(c, "smtp_route", "domain", domain);
    }

    /** Deletes the row of {@code table} whose key column is {@code key}; false when there was none. */
    private static boolean deleteRow(Connection c, String table, String keyColumn, String key) throws SQLException {
        return delete(c, "delete from " + table + " where " + keyColumn + " = ?", key) == 1;
    }

    private static int delete(Connection c, String sql, Object arg) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setObject(1, arg);
            return ps.executeUpdate();
        }
    }

    // --- rows

    @FunctionalInterface
    private interface Row<T> {
        T map(ResultSet r) throws SQLException;
    }

    private static <T> List<T> query(Connection c, String sql, String arg, Row<T> row) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            if (arg != null) {
                ps.setString(1, arg);
            }
            try (ResultSet r = ps.executeQuery()) {
                List<T> out = new ArrayList<>();
                while (r.next()) {
                    out.add(row.map(r));
                }
                return out;
            }
        }
    }

    private static List<String> strings(Array a) throws SQLException {
        return a == null ? List.of() : Arrays.asList((String[]) a.getArray());
    }

    private static MailFlowPolicy policy(ResultSet r) throws SQLException {
        return new MailFlowPolicy(r.getString(1), Behaviour.valueOf(r.getString(2)), InboundTls.valueOf(r.getString(3)),
                strings(r.getArray(4)).stream().map(SenderAddress::parse).toList(), r.getInt(5), r.getInt(6));
    }

    private static SenderGroup group(ResultSet r) throws SQLException {
        return new SenderGroup(r.getString(1), strings(r.getArray(3)).stream().map(SenderPattern::parse).toList(),
                r.getString(2));
    }

    private static Listener listener(ResultSet r) throws SQLException {
        return new Listener(r.getString(1), r.getString(2), r.getInt(3), r.getString(4), r.getInt(5), r.getInt(6),
                r.getLong(7));
    }

    private static SmtpRoute route(ResultSet r) throws SQLException {
        return SmtpRoute.of(r.getString(1), strings(r.getArray(2)));
    }
}
