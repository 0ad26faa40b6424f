/// A room stream: what one audience of a room receives.
enum Audience: Int, Sendable, CaseIterable {
    case host = 0
    case `operator` = 1
    case viewer = 2
    /// Sales-channel connectors and internal services: stock levels for every SKU.
    case connector = 3

    /// The stream a role subscribes to.
    init(_ role: Role) {
        switch role {
        case .host: self = .host
        case .operator: self = .operator
        case .viewer: self = .viewer
        case .connector, .service: self = .connector
        }
    }

    static let everyone: [Audience] = Audience.allCases
}
