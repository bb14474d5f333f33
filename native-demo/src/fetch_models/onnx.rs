//! Just enough ONNX to take the convolution weights out of a model file.
//!
//! ONNX is a protobuf format; rather than generating code from `onnx.proto`
//! (a build step and a `protoc` dependency), the handful of messages needed
//! are written out by hand with their field numbers. prost skips every field
//! not declared here, so the rest of the model costs nothing but parse time.

use std::collections::HashMap;

use prost::Message;

/// `ModelProto`: only the graph.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
}

/// `GraphProto`: nodes in topological order and the constant tensors.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// `ValueInfoProto`: only the name (graph inputs and outputs).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
}

/// `NodeProto`: one operator application.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

/// `AttributeProto`: the integer and string kinds (all Conv needs).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int64, tag = "3")]
    pub i: i64,
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    // onnx.proto is proto2, where repeated scalars are not packed; prost
    // reads both forms, and writes this one so test models look real.
    #[prost(int64, repeated, packed = "false", tag = "8")]
    pub ints: Vec<i64>,
    #[prost(int32, tag = "20")]
    pub r#type: i32,
}

/// `TensorProto`: a constant tensor, its values either in `raw_data`
/// (little-endian bytes) or in the typed `float_data` list.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    #[prost(int64, repeated, packed = "false", tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    /// 1 = EXTERNAL: the values live in a side file, which a wheel member
    /// cannot have; reported rather than misread as an empty tensor.
    #[prost(int32, tag = "14")]
    pub data_location: i32,
}

/// `TensorProto.DataType.FLOAT`.
pub const FLOAT: i32 = 1;

/// A float32 tensor as little-endian bytes, the layout safetensors stores,
/// so raw ONNX data is copied without a round trip through `f32`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub le_bytes: Vec<u8>,
}

impl Tensor {
    /// Element `i` (row-major).
    pub fn value(&self, i: usize) -> f32 {
        let b = &self.le_bytes[4 * i..4 * i + 4];
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

/// One `Conv` node with its weights and the attributes that decide its
/// geometry (ONNX defaults filled in).
#[derive(Clone, Debug)]
pub struct Conv {
    /// The node's name, for messages.
    pub node: String,
    pub weight: Tensor,
    /// `None` when the node has no third input (ONNX then adds no bias).
    pub bias: Option<Tensor>,
    pub dilations: Vec<i64>,
    pub pads: Vec<i64>,
    pub strides: Vec<i64>,
    pub group: i64,
}

/// Decodes a model file and returns its graph.
pub fn decode_graph(bytes: &[u8]) -> Result<GraphProto, String> {
    let model = ModelProto::decode(bytes).map_err(|e| format!("not a valid ONNX model ({e})"))?;
    model
        .graph
        .ok_or_else(|| "the ONNX model has no graph".to_string())
}

/// Every `Conv` node in graph order with its weight and bias initializers.
///
/// Graph order is the exporter's execution order, which is what names the
/// anonymous U²-Netp weights; so the order is kept exactly.
pub fn convs(graph: GraphProto) -> Result<Vec<Conv>, String> {
    let inits: HashMap<String, TensorProto> = graph
        .initializer
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    let tensor = |node: &NodeProto, name: &str| -> Result<Tensor, String> {
        let t = inits.get(name).ok_or_else(|| {
            format!(
                "Conv node {} takes {name:?}, which is not a constant initializer",
                node.name
            )
        })?;
        float_tensor(t)
    };
    let mut out = Vec::new();
    for node in graph.node.iter().filter(|n| n.op_type == "Conv") {
        let weight_name = node
            .input
            .get(1)
            .ok_or_else(|| format!("Conv node {} has no weight input", node.name))?;
        let weight = tensor(node, weight_name)?;
        let bias = match node.input.get(2) {
            Some(name) if !name.is_empty() => Some(tensor(node, name)?),
            _ => None,
        };
        if let Some(pad) = attr(node, "auto_pad") {
            if !pad.s.is_empty() && pad.s != b"NOTSET" {
                return Err(format!(
                    "Conv node {} uses auto_pad {}, which is not supported",
                    node.name,
                    String::from_utf8_lossy(&pad.s)
                ));
            }
        }
        let ints =
            |name: &str, default: Vec<i64>| attr(node, name).map_or(default, |a| a.ints.clone());
        out.push(Conv {
            node: node.name.clone(),
            weight,
            bias,
            dilations: ints("dilations", vec![1, 1]),
            pads: ints("pads", vec![0, 0, 0, 0]),
            strides: ints("strides", vec![1, 1]),
            group: attr(node, "group").map_or(1, |a| a.i),
        });
    }
    Ok(out)
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

/// A float32 initializer as little-endian bytes, from whichever of the two
/// storage forms the exporter chose.
pub fn float_tensor(t: &TensorProto) -> Result<Tensor, String> {
    let name = &t.name;
    if t.data_type != FLOAT {
        return Err(format!(
            "initializer {name:?} is not float32 (ONNX data type {})",
            t.data_type
        ));
    }
    if t.data_location == 1 {
        return Err(format!(
            "initializer {name:?} is stored outside the model file"
        ));
    }
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("initializer {name:?} has dimension {d}")))
        .collect::<Result<Vec<usize>, String>>()?;
    // The byte count too must fit: a shape of 2^62 + 1 values would
    // otherwise wrap to 4 bytes and pass as a one-value tensor.
    let (n, bytes) = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|n| Some((n, n.checked_mul(4)?)))
        .ok_or_else(|| format!("initializer {name:?} is too large"))?;
    let le_bytes = if !t.raw_data.is_empty() {
        if t.raw_data.len() != bytes {
            return Err(format!(
                "initializer {name:?} has {} bytes of data, its shape {shape:?} needs {bytes}",
                t.raw_data.len(),
            ));
        }
        t.raw_data.clone()
    } else {
        if t.float_data.len() != n {
            return Err(format!(
                "initializer {name:?} has {} values, its shape {shape:?} needs {n}",
                t.float_data.len()
            ));
        }
        t.float_data.iter().flat_map(|v| v.to_le_bytes()).collect()
    };
    Ok(Tensor {
        name: name.clone(),
        shape,
        le_bytes,
    })
}
