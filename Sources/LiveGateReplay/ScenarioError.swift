import Foundation

/// A scenario that cannot be used, with the file and field at fault.
public struct ScenarioError: Error, CustomStringConvertible, Sendable {
    /// The file.
    public var file: String
    /// The field path, e.g. `skus[0].onHand`.
    public var field: String
    /// What is wrong.
    public var message: String

    /// `file: field: message`.
    public var description: String { field.isEmpty ? "\(file): \(message)" : "\(file): \(field): \(message)" }

    /// An error naming `file` and `field`.
    public init(file: String, field: String, message: String) {
        self.file = file
        self.field = field
        self.message = message
    }
}

extension ScenarioError {
    /// The decoding error as a message naming the field path.
    public init(decoding error: DecodingError, file: String) {
        func path(_ codingPath: [any CodingKey]) -> String {
            var text = ""
            for key in codingPath {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return text
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            self.init(file: file, field: parent.isEmpty ? key.stringValue : "\(parent).\(key.stringValue)", message: "is required")
        case .typeMismatch(let type, let context):
            self.init(file: file, field: path(context.codingPath), message: "expected \(Self.typeName(type))")
        case .valueNotFound(let type, let context):
            self.init(file: file, field: path(context.codingPath), message: "expected \(Self.typeName(type)), found null")
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            let message = context.codingPath.isEmpty ? "not valid JSON: \(underlying ?? context.debugDescription)" : context.debugDescription
            self.init(file: file, field: path(context.codingPath), message: message)
        @unknown default:
            self.init(file: file, field: "", message: "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type, is UInt64.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            return name.hasPrefix("Array") ? "an array" : name.hasPrefix("Dictionary") ? "an object" : "a \(name)"
        }
    }
}
