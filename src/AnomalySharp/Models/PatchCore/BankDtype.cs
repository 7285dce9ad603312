namespace AnomalySharp.Models.PatchCore;

/// <summary>model.bank_dtype: the element type the memory bank is kept and exported in.</summary>
internal enum BankDtype
{
    /// <summary>4 bytes a value.</summary>
    Float32,
    /// <summary>2 bytes a value: half the bank, distances still computed in float32.</summary>
    Float16,
}
