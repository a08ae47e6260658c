-- wrk script: every request is a failed login from the same client.
wrk.method = "POST"
wrk.body = "username=alice&password=wrong-password"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["User-Agent"] = "vigil-bench"
