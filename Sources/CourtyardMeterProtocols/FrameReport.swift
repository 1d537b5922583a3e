/// A decoded frame as plain fields, for `courtyard protocol decode` and the API.
///
/// Field engineers paste a capture and read this; ingestion reads ``registers``.
/// Absent fields are omitted from the JSON.
public struct FrameReport: Encodable, Hashable, Sendable {
    public var `protocol`: String
    /// What the frame is: `read_request`, `read_reply`, `read_refused`, `remote_control`, `current_data`, …
    public var kind: String
    public var address: String
    public var control: String
    public var direction: String
    public var meterType: String?
    public var identifier: String?
    public var identifierOrder: String?
    public var serial: Int?
    public var values: [DLT645.DataIdentifier.Value]?
    public var followUp: Bool?
    public var errors: [String]?
    public var command: String?
    public var password: String?
    public var operatorCode: String?
    public var validUntil: String?
    public var cumulative: MeterValue?
    public var settlement: MeterValue?
    public var meterTime: String?
    public var valve: String?
    public var batteryLow: Bool?
    public var data: String

    /// The cumulative registers the frame carries, in milli-units, keyed by Courtyard register name.
    public var registers: [String: Int64] {
        var result: [String: Int64] = [:]
        for value in values ?? [] {
            if let register = value.register, let milli = value.value?.milliUnits { result[register] = milli }
        }
        if let cumulative, let milli = cumulative.milliUnits {
            switch cumulative.unit {
            case "m3": result["volume_total"] = milli
            case "L": result["volume_total"] = milli / 1000 * 1000 == milli ? milli / 1000 : nil
            case "kWh": result["energy_total"] = milli
            default: break
            }
        }
        return result
    }

    public init(_ message: DLT645.Message) {
        self.protocol = "dlt645"
        var frame: DLT645.Frame
        switch message {
        case .readRequest(let address, let identifier):
            frame = DLT645.Frame(address: address, control: .read, data: identifier.wire)
            kind = "read_request"
            self.identifier = identifier.description
        case .readReply(let address, let identifier, let values, let payload, let followUp):
            frame = DLT645.Frame(address: address, control: DLT645.Control(raw: followUp ? 0xB1 : 0x91), data: identifier.wire + payload)
            kind = "read_reply"
            self.identifier = identifier.description
            self.values = values
            self.followUp = followUp
        case .readRefused(let address, let error):
            frame = DLT645.Frame(address: address, control: DLT645.Control(raw: 0xD1), data: [error.raw])
            kind = "read_refused"
            errors = error.reasons
        case .remoteControl(let address, let request):
            frame = DLT645.Frame(address: address, control: .remoteControl, data: [])
            kind = "remote_control"
            command = request.command?.name ?? "unknown_\(Hex.byte(request.commandByte))"
            password = request.password
            operatorCode = request.operatorCode
            validUntil = request.validUntil?.description ?? "invalid: \(Hex.string(request.validUntilBytes))"
        case .remoteControlDone(let address):
            frame = DLT645.Frame(address: address, control: DLT645.Control(raw: 0x9C), data: [])
            kind = "remote_control_done"
        case .remoteControlRefused(let address, let error):
            frame = DLT645.Frame(address: address, control: DLT645.Control(raw: 0xDC), data: [error.raw])
            kind = "remote_control_refused"
            errors = error.reasons
        case .other(let other):
            frame = other
            kind = "other"
        }
        address = frame.address.description
        control = Hex.byte(frame.control.raw)
        direction = frame.control.isReply ? "from_meter" : "to_meter"
        data = Hex.string(frame.data)
    }

    /// A report whose data field is the decoded frame's own (the message enum does not keep every byte).
    public init(dlt645 frame: DLT645.Frame) throws(FrameError) {
        self.init(try DLT645.Message(frame))
        data = Hex.string(frame.data)
    }

    public init(_ message: CJT188.Message) {
        self.protocol = "cjt188"
        let frame: CJT188.Frame
        switch message {
        case .readRequest(let request, let identifier, let order, let serial):
            frame = request
            kind = "read_request"
            self.identifier = Hex.byte(UInt8(identifier >> 8)) + Hex.byte(UInt8(identifier & 0xFF))
            identifierOrder = order.rawValue
            self.serial = Int(serial)
        case .currentData(let reply, let order, let serial, let data):
            frame = reply
            kind = "current_data"
            identifier = "901F"
            identifierOrder = order.rawValue
            self.serial = Int(serial)
            cumulative = data.cumulative
            settlement = data.settlement
            meterTime = data.meterTime?.description
            valve = data.status.valve
            batteryLow = data.status.batteryLow
        case .valveCommand(let command, let order, let serial, let action):
            frame = command
            kind = "valve_command"
            identifier = "A017"
            identifierOrder = order.rawValue
            self.serial = Int(serial)
            self.command = action == 0x55 ? "open" : action == 0x99 ? "close" : "vendor_\(Hex.byte(action))"
        case .writeAcknowledged(let reply, let identifier, let order, let serial, let status):
            frame = reply
            kind = "write_acknowledged"
            self.identifier = Hex.byte(UInt8(identifier >> 8)) + Hex.byte(UInt8(identifier & 0xFF))
            identifierOrder = order.rawValue
            self.serial = Int(serial)
            valve = status.valve
            batteryLow = status.batteryLow
        case .refused(let reply, let serial, let status):
            frame = reply
            kind = "refused"
            self.serial = serial.map(Int.init)
            valve = status?.valve
            batteryLow = status?.batteryLow
        case .other(let other):
            frame = other
            kind = "other"
        }
        meterType = frame.type.name
        address = frame.address.description
        control = Hex.byte(frame.control)
        direction = frame.isReply ? "from_meter" : "to_meter"
        data = Hex.string(frame.data)
    }
}
