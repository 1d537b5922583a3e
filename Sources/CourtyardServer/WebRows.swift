/// The rows pages show, read in one database call and handed to a template (Mustache reads their properties).
/// Optional texts are `nil`, never empty, when there is nothing: a template's `{{#receipt}}` section shows for any
/// present value, the empty string included.
enum WebRow {
    struct Payment: Sendable {
        var paidAt: String
        var house: String?
        var channel: String
        var amount: String
        var receipt: String?
    }

    struct Person: Sendable {
        var name: String
        var relation: String
        var phone: String?
    }

    struct Wallet: Sendable {
        var purpose: String
        /// The purpose in the page's language.
        var label: String
        var balance: String
        var low: Bool
    }

    struct Bill: Sendable {
        var id: String
        var period: String
        var dueDate: String
        var total: String
        var due: String
    }

    struct House: Sendable {
        var id: String
        var name: String
        var community: String
        var people: String
    }

    struct Held: Sendable {
        var id: String
        var device: String
        var measuredAt: String
        var value: String
        var reason: String
    }

    struct Refund: Sendable {
        var id: String
        var house: String
        var amount: String
        var reason: String
        var destination: String
        var requestedAt: String
        var rule: String
        /// The signed-in clerk asked for it: they may reject it, not approve it.
        var own: Bool
    }

    struct Audit: Sendable {
        var at: String
        var actor: String
        var action: String
        var subject: String
        var reason: String?
        var before: String?
        var after: String?
    }

    struct Option: Sendable {
        var id: String
        var name: String
        var selected: Bool
    }

    struct Tile: Sendable {
        var key: String
        var label: String
        var value: String
        var detail: String?
        var href: String?
        var alert: Bool
    }

    struct ChannelTotal: Sendable {
        var channel: String
        var count: Int64
        var amount: String
    }

    struct Shift: Sendable {
        var openedAt: String
        var openingFloat: String
        var payments: [Payment]
    }

    struct Chart: Sendable {
        var caption: String
        var svg: String
    }
}
