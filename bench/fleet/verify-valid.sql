-- A valid code, as a tier node verifies it (PostgresStore+Verification.swift): the
-- read that reserves the attempt and returns the sealed tokens, then the
-- compare-and-set that accepts the step the code matched (the store's clock, period
-- 1 s). Each client walks its own users (client_id + clients * k), as the load
-- generator's connections do, so a user's next step is fresh. pgbench -M prepared.
\set n :n + 1
\set u :client_id + :clients * (:n % :per)
SELECT * FROM otpgate.reserve_attempt('bench' || :u::text, NULL) \gset
SELECT otpgate.accept_code('bench' || :u::text, :token_id, :now_s, 0, :attempt, 'otpgate-bench', 0, NULL);
