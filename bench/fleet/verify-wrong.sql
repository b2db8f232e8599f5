-- A wrong code: the same reserving read, then the failure recorded and audited.
\set n :n + 1
\set u :client_id + :clients * (:n % :per)
SELECT * FROM otpgate.reserve_attempt('bench' || :u::text, NULL) \gset
SELECT * FROM otpgate.record_failure('bench' || :u::text, NULL, :attempt, 'verify.invalid', 'otpgate-bench', 0, NULL);
