import BerthCore
import DockerAPI
import Foundation
import HTTPUnix

extension HTTPRequest {
    /// Refuses a body holding a key berth would not honour (`CreateRequestRules`) with a 400
    /// naming it, before anything changes. A body that is not JSON is left to the decoder.
    func refuseUnsupportedFields(_ rule: FieldRule) throws(BerthError) {
        guard !body.isEmpty, let value = try? JSONCoding.decoder.decode(JSONValue.self, from: Data(body)) else { return }
        if let field = RequestFields.unsupported(in: value, rule: rule, options: CreateRequestRules.options) {
            throw .invalid(field.description)
        }
    }
}
