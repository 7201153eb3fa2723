import BerthCore
import DockerAPI
import Foundation
import HTTPUnix

extension APIRoutes {
    /// attach, logs and resize: a container's stdio.
    func addAttachRoutes(_ router: inout Router) {
        let controller = self.controller
        router.add(.POST, "/containers/{id}/attach") { request in
            await respond {
                let (record, stdio) = try await controller.stdio(of: request.param("id"))
                let session = try AttachSession(stdio: stdio, config: record.config, query: request.query)
                let contentType = session.tty ? RawStream.contentType : RawStream.multiplexedContentType
                return .hijacked(contentType: contentType) { writer in await session.serve(writer) }
            }
        }
        router.add(.POST, "/containers/{id}/resize") { request in
            await respond {
                let (rows, columns) = try request.windowSize()
                let (record, stdio) = try await controller.stdio(of: request.param("id"))
                guard record.isRunning else { throw BerthError.conflict("container \(record.id) is not running") }
                guard stdio.resize(rows: rows, columns: columns) else {
                    throw BerthError.conflict("container \(record.id) has no terminal")
                }
                return .empty(.ok)
            }
        }
        router.add(.GET, "/containers/{id}/logs") { request in
            await respond {
                let query = try LogQuery(query: request.query)
                let (record, stdio) = try await controller.stdio(of: request.param("id"))
                let tty = record.config.Tty ?? false
                let id = record.id
                return .stream(.ok, contentType: tty ? RawStream.contentType : RawStream.multiplexedContentType) { writer in
                    try await LogStreamer.stream(directory: stdio.directory, id: id, query: query,
                                                 write: { bytes, kind in
                                                     try await writer.write(tty ? bytes : RawStream.frame(kind, bytes))
                                                 },
                                                 isCapturing: { await controller.isRunning(id) || stdio.isCapturing })
                }
            }
        }
    }
}

extension HTTPRequest {
    /// `h` and `w` of a resize: both required, 16-bit.
    func windowSize() throws(BerthError) -> (rows: UInt16, columns: UInt16) {
        guard let h = query["h"].flatMap(UInt16.init), let w = query["w"].flatMap(UInt16.init) else {
            throw BerthError.invalid("resize needs h and w between 0 and 65535")
        }
        return (h, w)
    }
}
