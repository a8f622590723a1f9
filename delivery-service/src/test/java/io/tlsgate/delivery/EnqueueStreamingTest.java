package io.tlsgate.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.proto.delivery.v1.EnqueueChunk;
import io.tlsgate.proto.delivery.v1.Envelope;
import io.tlsgate.proto.delivery.v1.InboundTlsFacts;
import io.tlsgate.testkit.GrpcChannels;
import io.tlsgate.testkit.TestIdentities;
import io.tlsgate.testkit.TlsgateTestResources;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Client-streaming Enqueue: a large message arrives in chunks and is stored byte for byte with
 * its TLS facts; out-of-order, oversized and envelope-less streams are refused and store nothing.
 */
@QuarkusTest
class EnqueueStreamingTest {

    ManagedChannel ch;
    long icid;

    @BeforeEach
    void open() {
        ch = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("listener-service"), "delivery-service");
        icid = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
    }

    @AfterEach
    void close() {
        ch.shutdownNow();
    }

    Envelope envelope() {
        return Envelope.newBuilder().setMailFrom("").addRcptTo("a@example.com").setIcid(icid).setListener("inbound")
                .setTls(InboundTlsFacts.newBuilder().setEncrypted(true).setProtocol("TLSv1.3")
                        .setCipher("TLS_AES_256_GCM_SHA384").setClientCertificateSubject("CN=client.example")
                        .setClientCertificateVerified(true))
                .build();
    }

    @Test
    void aLargeMessageInChunksIsStoredByteForByte() throws Exception {
        byte[] data = new byte[5 * 1024 * 1024 + 17];
        new Random(7).nextBytes(data);
        long mid = Enqueue.send(ch, Enqueue.chunks(envelope(), data, 64 * 1024));
        try (Connection c = TlsgateTestResources.postgres().connect();
                PreparedStatement ps = c.prepareStatement("select size, encode(sha256(data), 'hex'), mail_from, tls_protocol, "
                        + "tls_cipher, tls_client_subject, tls_client_verified from delivery.message where mid = ?")) {
            ps.setLong(1, mid);
            try (ResultSet r = ps.executeQuery()) {
                assertTrue(r.next());
                assertEquals(data.length, r.getInt(1));
                assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data)), r.getString(2));
                assertEquals("", r.getString(3), "the null reverse-path");
                assertEquals("TLSv1.3", r.getString(4));
                assertEquals("TLS_AES_256_GCM_SHA384", r.getString(5));
                assertEquals("CN=client.example", r.getString(6));
                assertTrue(r.getBoolean(7));
            }
        }
    }

    @Test
    void badStreamsAreRefusedAndStoreNothing() throws Exception {
        byte[] small = "Subject: x\r\n\r\nhello\r\n".getBytes();
        List<EnqueueChunk> dataFirst = new ArrayList<>(Enqueue.chunks(envelope(), small, 4));
        dataFirst.add(0, dataFirst.remove(1));
        refused(dataFirst, "envelope: must come before the data");
        List<EnqueueChunk> twoEnvelopes = new ArrayList<>(Enqueue.chunks(envelope(), small, 4));
        twoEnvelopes.add(EnqueueChunk.newBuilder().setEnvelope(envelope()).build());
        refused(twoEnvelopes, "envelope: sent twice; send it once, first");
        refused(Enqueue.chunks(envelope(), new byte[0], 1).subList(1, 1), "envelope: missing");
        refused(List.of(EnqueueChunk.getDefaultInstance()), "chunk: neither envelope nor data");
        // One byte over the 32 MiB default limit, in 1 MiB chunks: refused as soon as it is over.
        refused(Enqueue.chunks(envelope(), new byte[32 * 1024 * 1024 + 1], 1024 * 1024), "data: larger than 33554432 bytes");
        // The sender abandons a message with an Abort chunk: ABORTED, nothing queued.
        List<EnqueueChunk> abandoned = new ArrayList<>(Enqueue.chunks(envelope(), small, 4));
        abandoned.add(EnqueueChunk.newBuilder().setAbort(io.tlsgate.proto.delivery.v1.Abort.newBuilder().setReason("client gone")).build());
        StatusRuntimeException aborted = assertThrows(StatusRuntimeException.class, () -> Enqueue.send(ch, abandoned));
        assertEquals(Status.Code.ABORTED, aborted.getStatus().getCode(), aborted.getStatus().toString());
        assertEquals("abandoned by the sender: client gone", aborted.getStatus().getDescription());
        try (Connection c = TlsgateTestResources.postgres().connect();
                PreparedStatement ps = c.prepareStatement("select count(*) from delivery.message where icid = ?")) {
            ps.setLong(1, icid);
            try (ResultSet r = ps.executeQuery()) {
                r.next();
                assertEquals(0, r.getInt(1), "nothing stored");
            }
        }
    }

    private void refused(List<EnqueueChunk> chunks, String message) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> Enqueue.send(ch, chunks));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
        assertEquals(message, e.getStatus().getDescription());
    }
}
