import NIOCore

/// The MQTT 3.1.1 control packets Courtyard uses (OASIS standard, 2014), with their wire encoding.
///
/// A small client is enough: Courtyard subscribes to device telemetry with QoS 1 and publishes device
/// commands; it never acts as a broker. Packets it does not need (QoS 2's PUBREC/PUBREL/PUBCOMP,
/// UNSUBSCRIBE) are decoded as ``unsupported`` so a stray one cannot crash the connection.
public enum MQTTPacket: Hashable, Sendable {
    case connect(Connect)
    case connack(sessionPresent: Bool, returnCode: UInt8)
    case publish(Publish)
    case puback(packetId: UInt16)
    case subscribe(packetId: UInt16, filters: [MQTTTopicFilter])
    case suback(packetId: UInt16, returnCodes: [UInt8])
    case pingreq
    case pingresp
    case disconnect
    case unsupported(type: UInt8)

    /// CONNECT's fields.
    public struct Connect: Hashable, Sendable {
        public var clientId: String
        public var cleanSession: Bool
        public var keepAliveSeconds: UInt16
        public var username: String?
        public var password: String?

        public init(clientId: String, cleanSession: Bool, keepAliveSeconds: UInt16, username: String? = nil, password: String? = nil) {
            self.clientId = clientId
            self.cleanSession = cleanSession
            self.keepAliveSeconds = keepAliveSeconds
            self.username = username
            self.password = password
        }
    }

    /// PUBLISH's fields.
    public struct Publish: Hashable, Sendable {
        public var topic: String
        public var payload: [UInt8]
        public var qos: UInt8
        public var retain: Bool
        public var duplicate: Bool
        /// Present for QoS 1 and 2.
        public var packetId: UInt16?

        public init(topic: String, payload: [UInt8], qos: UInt8, retain: Bool = false, duplicate: Bool = false, packetId: UInt16? = nil) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
            self.duplicate = duplicate
            self.packetId = packetId
        }
    }

    /// Why bytes are not an MQTT packet.
    public enum DecodingError: Error, Hashable, Sendable {
        case malformedRemainingLength
        case malformed(String)
        case tooLarge(Int)
    }
}

/// A topic filter and the QoS asked for it.
public struct MQTTTopicFilter: Hashable, Sendable {
    public var filter: String
    public var qos: UInt8
    public init(_ filter: String, qos: UInt8) {
        self.filter = filter
        self.qos = qos
    }
}

extension MQTTPacket {
    /// The largest packet accepted (remaining length); telemetry is small, so 1 MiB is generous.
    public static let maximumSize = 1 << 20

    /// Appends the packet's bytes to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        var body = ByteBuffer()
        let header: UInt8
        switch self {
        case .connect(let connect):
            header = 0x10
            body.writeMQTTString("MQTT")
            body.writeInteger(UInt8(4))  // protocol level 3.1.1
            var flags: UInt8 = connect.cleanSession ? 0x02 : 0
            if connect.username != nil { flags |= 0x80 }
            if connect.password != nil { flags |= 0x40 }
            body.writeInteger(flags)
            body.writeInteger(connect.keepAliveSeconds)
            body.writeMQTTString(connect.clientId)
            if let username = connect.username { body.writeMQTTString(username) }
            if let password = connect.password { body.writeMQTTString(password) }
        case .connack(let sessionPresent, let returnCode):
            header = 0x20
            body.writeInteger(UInt8(sessionPresent ? 1 : 0))
            body.writeInteger(returnCode)
        case .publish(let publish):
            header = 0x30 | (publish.duplicate ? 0x08 : 0) | (publish.qos << 1) | (publish.retain ? 1 : 0)
            body.writeMQTTString(publish.topic)
            if publish.qos > 0 { body.writeInteger(publish.packetId ?? 0) }
            body.writeBytes(publish.payload)
        case .puback(let packetId):
            header = 0x40
            body.writeInteger(packetId)
        case .subscribe(let packetId, let filters):
            header = 0x82
            body.writeInteger(packetId)
            for filter in filters {
                body.writeMQTTString(filter.filter)
                body.writeInteger(filter.qos)
            }
        case .suback(let packetId, let codes):
            header = 0x90
            body.writeInteger(packetId)
            body.writeBytes(codes)
        case .pingreq: header = 0xC0
        case .pingresp: header = 0xD0
        case .disconnect: header = 0xE0
        case .unsupported(let type): header = type << 4
        }
        buffer.writeInteger(header)
        var length = body.readableBytes
        repeat {
            var byte = UInt8(length % 128)
            length /= 128
            if length > 0 { byte |= 0x80 }
            buffer.writeInteger(byte)
        } while length > 0
        buffer.writeBuffer(&body)
    }

    /// Reads one packet from the front of `buffer`; nil (nothing consumed) when it is not all there yet.
    public static func read(from buffer: inout ByteBuffer) throws(DecodingError) -> MQTTPacket? {
        var view = buffer
        guard let header: UInt8 = view.readInteger() else { return nil }
        var length = 0
        var multiplier = 1
        var lengthBytes = 0
        while true {
            guard let byte: UInt8 = view.readInteger() else { return nil }
            length += Int(byte & 0x7F) * multiplier
            lengthBytes += 1
            if byte & 0x80 == 0 { break }
            multiplier *= 128
            if lengthBytes == 4 { throw .malformedRemainingLength }
        }
        guard length <= maximumSize else { throw .tooLarge(length) }
        guard var body = view.readSlice(length: length) else { return nil }
        buffer = view
        let type = header >> 4
        switch type {
        case 1:
            guard body.readMQTTString() == "MQTT", let level: UInt8 = body.readInteger(), level == 4,
                let flags: UInt8 = body.readInteger(), let keepAlive: UInt16 = body.readInteger(),
                let clientId = body.readMQTTString()
            else { throw .malformed("CONNECT") }
            let username = flags & 0x80 != 0 ? body.readMQTTString() : nil
            let password = flags & 0x40 != 0 ? body.readMQTTString() : nil
            return .connect(
                Connect(
                    clientId: clientId, cleanSession: flags & 0x02 != 0, keepAliveSeconds: keepAlive,
                    username: username, password: password))
        case 2:
            guard length == 2, let flags: UInt8 = body.readInteger(), let code: UInt8 = body.readInteger() else { throw .malformed("CONNACK") }
            return .connack(sessionPresent: flags & 1 != 0, returnCode: code)
        case 3:
            let qos = (header >> 1) & 0x03
            guard qos < 3, let topic = body.readMQTTString() else { throw .malformed("PUBLISH") }
            var packetId: UInt16?
            if qos > 0 {
                guard let id: UInt16 = body.readInteger() else { throw .malformed("PUBLISH packet id") }
                packetId = id
            }
            return .publish(
                Publish(
                    topic: topic, payload: body.readBytes(length: body.readableBytes) ?? [], qos: qos,
                    retain: header & 1 != 0, duplicate: header & 0x08 != 0, packetId: packetId))
        case 4:
            guard length == 2, let id: UInt16 = body.readInteger() else { throw .malformed("PUBACK") }
            return .puback(packetId: id)
        case 8:
            guard let id: UInt16 = body.readInteger() else { throw .malformed("SUBSCRIBE") }
            var filters: [MQTTTopicFilter] = []
            while body.readableBytes > 0 {
                guard let filter = body.readMQTTString(), let qos: UInt8 = body.readInteger() else { throw .malformed("SUBSCRIBE filter") }
                filters.append(MQTTTopicFilter(filter, qos: qos))
            }
            return .subscribe(packetId: id, filters: filters)
        case 9:
            guard let id: UInt16 = body.readInteger() else { throw .malformed("SUBACK") }
            return .suback(packetId: id, returnCodes: body.readBytes(length: body.readableBytes) ?? [])
        case 12: return .pingreq
        case 13: return .pingresp
        case 14: return .disconnect
        default: return .unsupported(type: type)
        }
    }
}

extension ByteBuffer {
    mutating func writeMQTTString(_ text: String) {
        let bytes = Array(text.utf8)
        writeInteger(UInt16(bytes.count))
        writeBytes(bytes)
    }

    mutating func readMQTTString() -> String? {
        guard let length: UInt16 = readInteger(), let bytes = readBytes(length: Int(length)) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// Whether `topic` matches `filter` (`+` one level, `#` the rest).
public func mqttTopic(_ topic: String, matches filter: String) -> Bool {
    let topicLevels = topic.split(separator: "/", omittingEmptySubsequences: false)
    let filterLevels = filter.split(separator: "/", omittingEmptySubsequences: false)
    for (index, level) in filterLevels.enumerated() {
        if level == "#" { return true }
        guard index < topicLevels.count else { return false }
        if level != "+" && level != topicLevels[index] { return false }
    }
    return topicLevels.count == filterLevels.count
}
