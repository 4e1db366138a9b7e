import Foundation

extension RTDetrConfig {
    /// transformers' `RTDetrResNetConfig` (`backbone_config` in `config.json`): the ResNet-vd
    /// backbone. Absent keys take the defaults of `configuration_rt_detr_resnet.py` (ResNet-50).
    public struct Backbone: Codable, Sendable, Equatable {
        public enum LayerType: String, Codable, Sendable {
            case basic
            case bottleneck
        }

        public var numChannels: Int
        public var embeddingSize: Int
        /// Output channels of stages 1…n.
        public var hiddenSizes: [Int]
        public var depths: [Int]
        public var layerType: LayerType
        public var hiddenAct: String
        public var downsampleInFirstStage: Bool
        public var downsampleInBottleneck: Bool
        /// Stage names the backbone outputs (`stem`, `stage1`, …), in order.
        public var outFeatures: [String]
        /// The same stages as indices into `stageNames` (0 is the stem), non-negative, increasing.
        public var outIndices: [Int]

        /// `["stem", "stage1", …, "stageN"]`.
        public var stageNames: [String] { ["stem"] + depths.indices.map { "stage\($0 + 1)" } }

        /// Channels of each output feature (`embeddingSize` for the stem, `hiddenSizes[i-1]` for stage i).
        public var outChannels: [Int] { outIndices.map { $0 == 0 ? embeddingSize : hiddenSizes[$0 - 1] } }

        enum CodingKeys: String, CodingKey {
            case modelType = "model_type"
            case numChannels = "num_channels"
            case embeddingSize = "embedding_size"
            case hiddenSizes = "hidden_sizes"
            case depths
            case layerType = "layer_type"
            case hiddenAct = "hidden_act"
            case downsampleInFirstStage = "downsample_in_first_stage"
            case downsampleInBottleneck = "downsample_in_bottleneck"
            case outFeatures = "out_features"
            case outIndices = "out_indices"
        }

        static let modelType = "rt_detr_resnet"

        /// What transformers builds when `backbone_config` is absent: ResNet-50 defaults with
        /// `out_indices = [2, 3, 4]`.
        public static let resNet50Default = Backbone(
            numChannels: 3, embeddingSize: 64, hiddenSizes: [256, 512, 1024, 2048], depths: [3, 4, 6, 3],
            layerType: .bottleneck, hiddenAct: "relu", downsampleInFirstStage: false, downsampleInBottleneck: false,
            outFeatures: ["stage2", "stage3", "stage4"], outIndices: [2, 3, 4])

        public init(
            numChannels: Int, embeddingSize: Int, hiddenSizes: [Int], depths: [Int], layerType: LayerType,
            hiddenAct: String, downsampleInFirstStage: Bool, downsampleInBottleneck: Bool,
            outFeatures: [String], outIndices: [Int]
        ) {
            self.numChannels = numChannels
            self.embeddingSize = embeddingSize
            self.hiddenSizes = hiddenSizes
            self.depths = depths
            self.layerType = layerType
            self.hiddenAct = hiddenAct
            self.downsampleInFirstStage = downsampleInFirstStage
            self.downsampleInBottleneck = downsampleInBottleneck
            self.outFeatures = outFeatures
            self.outIndices = outIndices
        }

        public init(from decoder: Swift.Decoder) throws {
            let fields = try ConfigFields(
                decoder, keyedBy: CodingKeys.self, prefix: "backbone_config.", objectName: "backbone_config")
            // transformers needs model_type to pick the sub-config class from a dict.
            let modelType: String = try fields.required(.modelType, "a string")
            guard modelType == Self.modelType else {
                throw fields.fail(
                    .modelType,
                    "\(CheckpointError.quote(modelType, limit: 40)) is not supported (expected '\(Self.modelType)')")
            }
            numChannels = try fields.value(.numChannels, default: 3, "an integer")
            embeddingSize = try fields.value(.embeddingSize, default: 64, "an integer")
            hiddenSizes = try fields.value(.hiddenSizes, default: [256, 512, 1024, 2048], "a list of integers")
            depths = try fields.value(.depths, default: [3, 4, 6, 3], "a list of integers")
            let layerName: String = try fields.value(.layerType, default: "bottleneck", "a string")
            guard let layerType = LayerType(rawValue: layerName) else {
                throw fields.fail(
                    .layerType, "\(CheckpointError.quote(layerName, limit: 40)) is not one of basic, bottleneck")
            }
            self.layerType = layerType
            hiddenAct = try fields.activation(.hiddenAct, default: "relu")
            downsampleInFirstStage = try fields.value(.downsampleInFirstStage, default: false, "true or false")
            downsampleInBottleneck = try fields.value(.downsampleInBottleneck, default: false, "true or false")

            try fields.positive(.numChannels, numChannels)
            try fields.positive(.embeddingSize, embeddingSize)
            guard embeddingSize % 2 == 0 else {
                throw fields.fail(.embeddingSize, "must be even (the stem's first convs have embedding_size/2 channels), found \(embeddingSize)")
            }
            try fields.positiveList(.hiddenSizes, hiddenSizes)
            try fields.positiveList(.depths, depths)
            guard hiddenSizes.count == depths.count else {
                throw fields.fail(.hiddenSizes, "has \(hiddenSizes.count) stages but depths has \(depths.count)")
            }

            let stageNames = ["stem"] + depths.indices.map { "stage\($0 + 1)" }
            let features: [String]? = try fields.optional(.outFeatures, "a list of stage names")
            let indices: [Int]? = try fields.optional(.outIndices, "a list of integers")
            (outFeatures, outIndices) = try Self.alignOutputs(features, indices, stageNames: stageNames, fields)
            // transformers allows the stem as an output; RT-DETR never uses it and the engine does not either.
            guard !outIndices.contains(0) else {
                throw fields.fail(
                    indices != nil ? .outIndices : .outFeatures, "the stem as an output feature is not supported")
            }
        }

        /// transformers' `BackboneConfigMixin.set_output_features_output_indices`: either list may be
        /// absent (derived from the other; both absent means the last stage), negative indices count
        /// from the end, entries must be distinct, in stage order, and agree with each other.
        private static func alignOutputs(
            _ features: [String]?, _ indices: [Int]?, stageNames: [String], _ fields: ConfigFields<CodingKeys>
        ) throws -> ([String], [Int]) {
            var resolvedIndices: [Int]?
            if let indices {
                var positive: [Int] = []
                for index in indices {
                    let value = index < 0 ? index + stageNames.count : index
                    guard (0..<stageNames.count).contains(value) else {
                        throw fields.fail(
                            .outIndices, "index \(index) is outside the \(stageNames.count) stages \(CheckpointError.list(stageNames))")
                    }
                    positive.append(value)
                }
                guard Set(positive).count == positive.count else {
                    throw fields.fail(.outIndices, "must not repeat a stage, found \(CheckpointError.list(indices))")
                }
                guard positive == positive.sorted() else {
                    throw fields.fail(.outIndices, "must be in stage order, found \(CheckpointError.list(indices))")
                }
                guard !positive.isEmpty else { throw fields.fail(.outIndices, "must not be empty") }
                resolvedIndices = positive
            }
            var fromFeatures: [Int]?
            if let features {
                var found: [Int] = []
                for name in features {
                    guard let index = stageNames.firstIndex(of: name) else {
                        throw fields.fail(
                            .outFeatures,
                            "\(CheckpointError.quote(name, limit: 40)) is not a stage name \(CheckpointError.list(stageNames))")
                    }
                    found.append(index)
                }
                guard Set(found).count == found.count else {
                    throw fields.fail(.outFeatures, "must not repeat a stage")
                }
                guard found == found.sorted() else { throw fields.fail(.outFeatures, "must be in stage order") }
                guard !found.isEmpty else { throw fields.fail(.outFeatures, "must not be empty") }
                fromFeatures = found
            }
            switch (resolvedIndices, fromFeatures) {
            case (nil, nil):
                return ([stageNames[stageNames.count - 1]], [stageNames.count - 1])
            case (let indices?, nil):
                return (indices.map { stageNames[$0] }, indices)
            case (nil, let indices?):
                return (indices.map { stageNames[$0] }, indices)
            case (let indices?, let featureIndices?):
                guard indices == featureIndices else {
                    throw fields.fail(
                        .outFeatures,
                        "\(CheckpointError.list(features ?? [])) do not match out_indices \(CheckpointError.list(indices))")
                }
                return (indices.map { stageNames[$0] }, indices)
            }
        }

        public func encode(to encoder: Swift.Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(Self.modelType, forKey: .modelType)
            try container.encode(numChannels, forKey: .numChannels)
            try container.encode(embeddingSize, forKey: .embeddingSize)
            try container.encode(hiddenSizes, forKey: .hiddenSizes)
            try container.encode(depths, forKey: .depths)
            try container.encode(layerType, forKey: .layerType)
            try container.encode(hiddenAct, forKey: .hiddenAct)
            try container.encode(downsampleInFirstStage, forKey: .downsampleInFirstStage)
            try container.encode(downsampleInBottleneck, forKey: .downsampleInBottleneck)
            try container.encode(outFeatures, forKey: .outFeatures)
            try container.encode(outIndices, forKey: .outIndices)
        }
    }
}
