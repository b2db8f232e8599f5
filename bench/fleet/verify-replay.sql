-- A replayed code: the node sees the step at or below the watermark it just read, so
-- it records a failure audited as verify.replayed (no compare-and-set is tried).
\set n :n + 1
\set u :client_id + :clients * (:n % :per)
SELECT * FROM otpgate.reserve_attempt('bench' || :u::text, NULL) \gset
SELECT * FROM otpgate.record_failure('bench' || :u::text, NULL, :attempt, 'verify.replayed', 'otpgate-bench', 0, NULL);
