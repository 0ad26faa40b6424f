import LiveGateCore

/// Encodes frames: unmasked for server → client, masked for tests acting as a client.
public enum WebSocketFrameEncoder {
    /// The header size of a frame with a payload of `count` bytes (RFC 6455 §5.2).
    @inlinable public static func headerSize(payloadCount count: Int, masked: Bool = false) -> Int {
        (count < 126 ? 2 : count <= 0xFFFF ? 4 : 10) + (masked ? 4 : 0)
    }

    /// Writes a frame header at `destination`.
    ///
    /// - Parameter isCompressed: sets RSV1, the permessage-deflate bit (RFC 7692 §6), on a
    ///   message's first frame.
    /// - Returns: the number of header bytes written.
    public static func writeHeader(
        into destination: UnsafeMutableRawPointer, opcode: WebSocketOpcode, isFinal: Bool = true,
        isCompressed: Bool = false, payloadCount count: Int, maskKey: UInt32? = nil
    ) -> Int {
        destination.storeBytes(of: (isFinal ? 0x80 : 0) | (isCompressed ? 0x40 : 0) | opcode.rawValue, as: UInt8.self)
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        var size: Int
        if count < 126 {
            destination.storeBytes(of: maskBit | UInt8(count), toByteOffset: 1, as: UInt8.self)
            size = 2
        } else if count <= 0xFFFF {
            destination.storeBytes(of: maskBit | 126, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: UInt16(count).bigEndian, toByteOffset: 2, as: UInt16.self)
            size = 4
        } else {
            destination.storeBytes(of: maskBit | 127, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: UInt64(count).bigEndian, toByteOffset: 2, as: UInt64.self)
            size = 10
        }
        if let maskKey {
            destination.storeBytes(of: maskKey, toByteOffset: size, as: UInt32.self)
            size += 4
        }
        return size
    }

    /// A complete unmasked frame in shared storage, ready to be queued on many connections.
    ///
    /// - Parameters:
    ///   - isCompressed: the payload is compressed (RSV1 set).
    ///   - deflated: the compressed frame of the same message, kept next to this one.
    /// - Complexity: O(n); one allocation.
    public static func makeSharedFrame(
        opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer, isCompressed: Bool = false, deflated: SharedBytes? = nil
    ) -> SharedBytes {
        let header = headerSize(payloadCount: payload.count)
        return SharedBytes(count: header + payload.count, deflated: deflated) { buffer in
            let base = buffer.baseAddress!
            _ = writeHeader(into: base, opcode: opcode, isCompressed: isCompressed, payloadCount: payload.count)
            if let source = payload.baseAddress, payload.count > 0 {
                (base + header).copyMemory(from: source, byteCount: payload.count)
            }
        }
    }

    /// A complete frame as an array; masked when `maskKey` is given (client side).
    public static func encode<C: Collection>(
        opcode: WebSocketOpcode, payload: C, isFinal: Bool = true, isCompressed: Bool = false, maskKey: UInt32? = nil
    ) -> [UInt8] where C.Element == UInt8 {
        let header = headerSize(payloadCount: payload.count, masked: maskKey != nil)
        var bytes = [UInt8](repeating: 0, count: header)
        bytes.withUnsafeMutableBytes { buffer in
            _ = writeHeader(into: buffer.baseAddress!, opcode: opcode, isFinal: isFinal, isCompressed: isCompressed,
                            payloadCount: payload.count, maskKey: maskKey)
        }
        bytes.append(contentsOf: payload)
        if let maskKey {
            bytes.withUnsafeMutableBytes { buffer in
                WebSocketMasking.unmask(UnsafeMutableRawBufferPointer(rebasing: buffer[header...]), key: maskKey, offset: 0)
            }
        }
        return bytes
    }

    /// A close frame's payload: the code in network order and the reason cut to 123
    /// bytes at a code point boundary (RFC 6455 §5.5.1, §5.5).
    public static func closePayload(code: WebSocketCloseCode, reason: String) -> [UInt8] {
        var payload: [UInt8] = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
        var reasonBytes: [UInt8] = []
        for scalar in reason.unicodeScalars {
            let encoded = Array(String(scalar).utf8)
            if reasonBytes.count + encoded.count > 123 { break }
            reasonBytes += encoded
        }
        payload += reasonBytes
        return payload
    }
}
