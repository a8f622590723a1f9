package io.tlsgate.delivery.grpc;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.tlsgate.delivery.queue.NewMessage;
import io.tlsgate.delivery.queue.TlsRequest;
import io.tlsgate.proto.delivery.v1.EnqueueChunk;
import io.tlsgate.proto.delivery.v1.Envelope;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One Enqueue stream being received: the envelope, then the data chunks, bounded by the maximum
 * message size. The chunks are kept as they came (a rope of the received buffers, no copy) up
 * to {@link #IN_MEMORY} bytes; a larger message goes to a temporary file from then on, so a
 * large message is never held in memory. Not thread-safe: chunks of one stream arrive in order.
 */
final class Spool implements AutoCloseable {

    /**
     * Messages up to this size stay in memory: most mail is smaller, and a few hundred
     * concurrent streams then hold a few tens of megabytes at most.
     */
    static final int IN_MEMORY = 64 * 1024;

    private final long maxSize;
    private Envelope envelope;
    private ByteString held = ByteString.EMPTY;
    private Path file;
    private OutputStream out;
    private long size;
    private final TlsRequiredHeader header = new TlsRequiredHeader();

    Spool(long maxSize) {
        this.maxSize = maxSize;
    }

    void accept(EnqueueChunk chunk) {
        try {
            switch (chunk.getPartCase()) {
                case ENVELOPE -> {
                    if (envelope != null) {
                        throw invalid("envelope: sent twice; send it once, first");
                    }
                    envelope = chunk.getEnvelope();
                }
                case DATA -> {
                    if (envelope == null) {
                        throw invalid("envelope: must come before the data");
                    }
                    size += chunk.getData().size();
                    if (size > maxSize) {
                        throw invalid("data: larger than " + maxSize + " bytes");
                    }
                    header.feed(chunk.getData());
                    if (out == null && size <= IN_MEMORY) {
                        held = held.concat(chunk.getData());
                    } else {
                        if (out == null) {
                            file = Files.createTempFile("tlsgate-enqueue-", ".eml");
                            out = Files.newOutputStream(file);
                            held.writeTo(out);
                            held = ByteString.EMPTY;
                        }
                        chunk.getData().writeTo(out);
                    }
                }
                case ABORT -> throw Status.ABORTED.withDescription("abandoned by the sender: " + chunk.getAbort().getReason())
                        .asRuntimeException();
                default -> throw invalid("chunk: neither envelope nor data");
            }
        } catch (IOException e) {
            throw Status.UNAVAILABLE.withDescription("could not spool the message: " + e.getMessage()).asRuntimeException();
        }
    }

    /** The complete message, after the client closed its stream. */
    NewMessage message() {
        if (envelope == null) {
            throw invalid("envelope: missing");
        }
        NewMessage.Content content;
        if (out != null) {
            try {
                out.close();
            } catch (IOException e) {
                throw Status.UNAVAILABLE.withDescription("could not spool the message: " + e.getMessage()).asRuntimeException();
            }
            content = NewMessage.Content.of(file);
        } else {
            content = NewMessage.Content.of(held.toByteArray());
        }
        NewMessage.TlsFacts tls = envelope.hasTls() && envelope.getTls().getEncrypted()
                ? new NewMessage.TlsFacts(envelope.getTls().getProtocol(), envelope.getTls().getCipher(),
                        blankToNull(envelope.getTls().getClientCertificateSubject()),
                        envelope.getTls().getClientCertificateVerified())
                : NewMessage.TlsFacts.NONE;
        return new NewMessage(envelope.getMailFrom(), List.copyOf(envelope.getRcptToList()), content, size,
                envelope.getIcid(), envelope.getListener(), tls, TlsRequest.of(envelope.getRequireTls(), header.no()));
    }

    @Override
    public void close() {
        held = ByteString.EMPTY;
        try {
            if (out != null) {
                out.close();
            }
            if (file != null) {
                Files.deleteIfExists(file);
            }
        } catch (IOException ignored) {
            // a temp file left behind is removed with the temp directory
        }
    }

    private static String blankToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    private static RuntimeException invalid(String message) {
        return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
    }
}
