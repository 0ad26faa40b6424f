import Foundation

/// A value of an events.jsonl line.
enum JSONField {
    /// A string.
    case string(String)
    /// A number (written without a fraction when it has none).
    case number(Double)

    /// One JSON object with sorted keys.
    static func object(_ fields: [String: JSONField]) -> String {
        let body = fields.keys.sorted().map { key -> String in
            let value: String
            switch fields[key]! {
            case .string(let text): value = quote(text)
            case .number(let number):
                value = number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
            }
            return "\(quote(key)):\(value)"
        }
        return "{" + body.joined(separator: ",") + "}"
    }

    /// `text` as a JSON string literal.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
