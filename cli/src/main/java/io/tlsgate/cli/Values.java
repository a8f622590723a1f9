package io.tlsgate.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/** Small helpers the commands share: reading input files, printing JSON and field lists. */
final class Values {

    private Values() {}

    /** The bytes of {@code file}, or of standard input for {@code -}; a missing file is a usage error. */
    static byte[] read(String file) {
        try {
            return file.equals("-") ? System.in.readAllBytes() : Files.readAllBytes(Path.of(file));
        } catch (java.nio.file.NoSuchFileException e) {
            throw CliException.usage(file + ": no such file");
        } catch (IOException e) {
            throw CliException.usage("cannot read " + file + ": " + e.getMessage());
        }
    }

    /** Writes {@code bytes} to {@code file}; a place it cannot write is a usage error. */
    static void write(Path file, byte[] bytes) {
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw CliException.usage("cannot write " + file + ": " + e.getMessage());
        }
    }

    static void printJson(PrintWriter out, JsonNode n) {
        try {
            out.println(Api.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n));
            out.flush();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code name: value} lines, names padded to one width; nested values as compact JSON. */
    static void printFields(PrintWriter out, JsonNode object) {
        int width = 0;
        for (Iterator<String> it = object.fieldNames(); it.hasNext();) {
            width = Math.max(width, it.next().length());
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            out.println(e.getKey() + ":" + " ".repeat(width - e.getKey().length() + 1) + text(e.getValue()));
        }
        out.flush();
    }

    /** A value as one line: text as is, arrays joined with ", ", null as "-", objects as JSON. */
    static String text(JsonNode v) {
        if (v == null || v.isNull() || v.isMissingNode()) {
            return "-";
        }
        if (v.isValueNode()) {
            return v.asText();
        }
        if (v.isObject() && v.has("recipients") && v.has("perMinutes") && v.size() == 2) {
            return v.get("recipients").asText() + " per " + v.get("perMinutes").asText() + " min";
        }
        if (v.isArray() && java.util.stream.StreamSupport.stream(v.spliterator(), false).allMatch(JsonNode::isValueNode)) {
            StringBuilder b = new StringBuilder();
            v.forEach(x -> b.append(b.length() == 0 ? "" : ", ").append(x.asText()));
            return b.length() == 0 ? "-" : b.toString();
        }
        return v.toString();
    }
}
