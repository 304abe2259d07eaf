"""The model reshapes (N, m, C) to (N, C, m) instead of permuting, so time steps and channels get
mixed; expected to lose the channel-layout test (4 points). With only 3 input channels the
forecasting data are forgiving enough that it keeps its forecast points (the layout test exists
because of that).
"""


class Conv1dForecaster(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.frame_size, self.channels):
            raise ValueError(f"expected (N, {self.frame_size}, {self.channels}) = (N, frame_size, channels), got {tuple(x.shape)}")
        x = x.to(self.head.weight.dtype).reshape(x.shape[0], self.channels, self.frame_size)  # (N, C, m)
        x = F.relu(self.conv1(x))  # (N, hidden, m)
        x = F.relu(self.conv2(x))  # (N, hidden, L)
        x = self.head(x.flatten(1))  # (N, horizon_outputs)
        return x.squeeze(-1) if self.horizon_outputs == 1 else x
