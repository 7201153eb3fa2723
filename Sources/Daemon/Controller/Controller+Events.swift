import BerthCore

/// What other threads report to the controller: a container's process exited (the
/// process monitor), a background teardown finished (the teardown thread). They arrive
/// through one stream and each is handled as a child task of one long-lived task, so none
/// is lost, none outlives the controller, and a slow exit does not hold up the others.
enum ControllerEvent: Sendable {
    case exited(containerID: String, pid: Int32, exitCode: Int32)
    /// A stopped container's interfaces are gone: their addresses are free.
    case sandboxReleased(endpoints: [EndpointRecord], started: ContinuousClock.Instant)
    /// A disconnected interface is gone.
    case interfaceReleased(EndpointRecord, containerID: String, pid: Int32, started: ContinuousClock.Instant)
}

extension Controller {
    /// Starts handling events (first thing at start-up: running containers are watched
    /// during reconciliation).
    func startEventHandling() {
        guard eventHandler == nil else { return }
        let events = self.events
        eventHandler = Task { [weak self] in
            await withDiscardingTaskGroup { group in
                for await event in events {
                    group.addTask { await self?.handle(event) }
                }
            }
        }
    }

    func stopEventHandling() {
        eventSink.finish()
        eventHandler?.cancel()
        eventHandler = nil
    }

    /// Where other threads post events; never blocks.
    nonisolated func post(_ event: ControllerEvent) {
        eventSink.yield(event)
    }

    private func handle(_ event: ControllerEvent) async {
        switch event {
        case .exited(let id, let pid, let exitCode):
            await containerExited(id: id, pid: pid, exitCode: exitCode)
        case .sandboxReleased(let endpoints, let started):
            finishTeardown(endpoints, started: started)
        case .interfaceReleased(let endpoint, let id, let pid, let started):
            finishInterfaceTeardown(endpoint, container: id, pid: pid, started: started)
        }
    }
}
