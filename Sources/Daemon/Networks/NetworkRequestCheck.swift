import BerthCore
import DockerAPI

/// The fields of `POST /networks/create` that belong to no driver: honoured, or refused
/// with a line naming them, before anything changes (Docker would act on each of these;
/// berth must not quietly do something else).
enum NetworkRequestCheck {
    static func refuseUnsupported(_ request: NetworkCreateRequest, scope: NetworkScope) throws(BerthError) {
        if request.Ingress == true {
            throw .invalid("ingress networks belong to swarm mode, which berth does not run")
        }
        try refuseUnsupportedIPAM(request.IPAM)
        if request.EnableIPv4 == false {
            throw .invalid("networks without IPv4 (--ipv4=false) are not supported: berth gives every network an IPv4 subnet")
        }
        if let asked = request.Scope, !asked.isEmpty, asked != scope.rawValue {
            throw .invalid("scope \(asked) is not that of this network's driver (\(scope.rawValue))")
        }
    }

    /// berth has one IPAM, Docker's "default", which takes no options.
    static func refuseUnsupportedIPAM(_ ipam: IPAMSettings?) throws(BerthError) {
        if let driver = ipam?.Driver, !driver.isEmpty, driver != "default" {
            throw .invalid("IPAM driver \"\(driver)\" is not supported: berth has only the default IPAM")
        }
        if let key = (ipam?.Options ?? [:]).keys.sorted().first {
            throw .invalid("IPAM option \(key) is not supported by the default IPAM")
        }
    }
}
