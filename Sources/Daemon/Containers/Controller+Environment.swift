import BerthCore

extension Controller {
    /// runc refuses, at start, entries without `NAME=`, an empty name or a NUL byte: refused
    /// here instead, before anything is stored, so a start cannot fail with a 500 for them.
    static func validateEnvironment(_ variables: [String]) throws {
        for variable in variables {
            guard let equals = variable.firstIndex(of: "="), equals != variable.startIndex, !variable.contains("\u{0}") else {
                throw BerthError.invalid("invalid environment variable: \"\(variable.prefix(200))\" (want NAME=VALUE)")
            }
        }
    }
}
