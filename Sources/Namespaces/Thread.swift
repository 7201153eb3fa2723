import Glibc

/// A bare pthread: Foundation is not needed for one long-lived worker.
package final class Thread: @unchecked Sendable {
    // @unchecked: `body` is set once before start and read once on the new thread.
    private let body: () -> Void

    package init(_ body: @escaping () -> Void) { self.body = body }

    package func start() {
        let retained = Unmanaged.passRetained(self)
        var handle = pthread_t()
        pthread_create(&handle, nil, { raw in
            guard let raw else { return nil }
            let thread = Unmanaged<Thread>.fromOpaque(raw).takeRetainedValue()
            thread.body()
            return nil
        }, retained.toOpaque())
        pthread_detach(handle)
    }
}
