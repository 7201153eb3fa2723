extension EtcdClient {
    /// Grants a lease of `ttl` (whole seconds, rounded up, at least 1).
    public func grantLease(ttl: Duration) async throws -> LeaseID {
        let seconds = Self.wholeSeconds(ttl)
        let path = "/v3/lease/grant"
        let (endpoint, response) = try await callWithEndpoint(path, LeaseGrantRequest(TTL: WireInt64(seconds)), as: LeaseGrantResponse.self)
        if let error = response.error, !error.isEmpty {
            throw EtcdError.server(endpoint: endpoint, path: path, httpStatus: 200, grpcCode: nil, message: error)
        }
        let id = response.ID.orZero()
        guard id != 0 else { throw EtcdError.malformedResponse(endpoint: endpoint, path: path, reason: "no lease ID") }
        return LeaseID(id)
    }

    /// Refreshes the lease once: its remaining TTL, or `.gone` if it expired or was revoked.
    public func keepAliveOnce(_ lease: LeaseID) async throws -> LeaseState {
        let path = "/v3/lease/keepalive"
        let (endpoint, response) = try await callWithEndpoint(path, LeaseIDRequest(ID: WireInt64(lease.rawValue)), as: LeaseKeepAliveResponse.self)
        if let error = response.error {
            // The stream failed after its 200 head; next time start with another member.
            skip(endpoint)
            throw EtcdError.server(endpoint: endpoint, path: path, httpStatus: 200, grpcCode: error.code, message: error.message)
        }
        // etcd answers an unknown lease with TTL 0 (left out of the JSON), not an error.
        let ttl = response.result?.TTL.orZero() ?? 0
        return ttl > 0 ? .alive(ttl: ttl) : .gone
    }

    /// Ends the lease now; its keys are deleted. Throws `.leaseNotFound` if it was already gone.
    public func revokeLease(_ lease: LeaseID) async throws {
        do {
            _ = try await call("/v3/lease/revoke", LeaseIDRequest(ID: WireInt64(lease.rawValue)), as: PutResponse.self)
        } catch EtcdError.server(_, _, _, GRPCCode.notFound, _) {
            throw EtcdError.leaseNotFound(lease)
        }
    }

    /// Keeps the lease alive in the background, refreshing every `ttl`/3, until the keeper is
    /// cancelled or the lease is lost: etcd says it is gone, or no refresh succeeded for a
    /// whole `ttl` (it must be assumed expired). On loss `onLoss` runs once and `lost()` returns
    /// the reason; after `cancel()` neither happens.
    public func keepAlive(_ lease: LeaseID, ttl: Duration, onLoss: (@Sendable (EtcdError) async -> Void)? = nil) -> LeaseKeeper {
        let task = Task { [self] () -> EtcdError? in
            let loss = await self.refreshLoop(lease, ttl: ttl)
            if let loss, !Task.isCancelled { await onLoss?(loss) }
            return Task.isCancelled ? nil : loss
        }
        return LeaseKeeper(lease: lease, task: task)
    }

    private func refreshLoop(_ lease: LeaseID, ttl: Duration) async -> EtcdError? {
        let clock = ContinuousClock()
        var interval = ttl / 3
        var lastRefresh = clock.now
        // After a failed refresh try again sooner, but not in a tight loop.
        let retryPause = min(interval, .milliseconds(500))
        var pause = interval
        while true {
            do {
                try await Task.sleep(for: pause)
            } catch {
                return nil  // cancelled
            }
            do {
                switch try await keepAliveOnce(lease) {
                case .alive(let seconds):
                    lastRefresh = clock.now
                    interval = .seconds(seconds) / 3
                    pause = interval
                case .gone:
                    return .leaseNotFound(lease)
                }
            } catch is CancellationError {
                return nil
            } catch {
                if Task.isCancelled { return nil }
                let failure = (error as? EtcdError) ?? .leaseLost(lease, reason: "\(error)")
                // Every member unreachable is worth waiting out too, as long as the TTL lasts.
                var transient = failure.isRetryable
                if case .unavailable = failure { transient = true }
                if !transient { return .leaseLost(lease, reason: failure.description) }
                if clock.now - lastRefresh >= ttl {
                    return .leaseLost(lease, reason: "no refresh for \(ttl): \(failure)")
                }
                pause = retryPause
            }
        }
    }

    static func wholeSeconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(1, seconds + (attoseconds > 0 ? 1 : 0))
    }
}

/// A lease kept alive in the background by `EtcdClient.keepAlive`.
public struct LeaseKeeper: Sendable {
    public let lease: LeaseID
    let task: Task<EtcdError?, Never>

    /// Stops refreshing; the lease then expires after its TTL unless revoked.
    public func cancel() { task.cancel() }

    /// Waits until the lease is lost (the reason) or the keeper is cancelled (nil).
    public func lost() async -> EtcdError? { await task.value }
}
