package io.tlsgate.platform.problem;

import java.util.List;

/**
 * A request that names bad fields; answered 400 problem+json listing each field and why
 * (see {@link ProblemMappers}). Thrown before anything is changed.
 */
public class InvalidRequestException extends RuntimeException {

    private final List<Problem.FieldError> errors;

    public InvalidRequestException(List<Problem.FieldError> errors) {
        super(errors.isEmpty() ? "invalid request" : errors.get(0).field() + ": " + errors.get(0).message());
        this.errors = List.copyOf(errors);
    }

    public static InvalidRequestException field(String field, String message) {
        return new InvalidRequestException(List.of(new Problem.FieldError(field, message)));
    }

    public List<Problem.FieldError> errors() {
        return errors;
    }
}
