#pragma once
// Private: the optimiser of `nequip-md train` as nequip 0.6.2 runs it on torch 1.13: Adam / AMSGrad with weight
// decay, gradient clipping, the exponential moving average of the weights (EMA) and ReduceLROnPlateau. Their state
// is saved in checkpoints (training_state_impl.hpp). Includes torch.
#include <torch/torch.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace nqmd::nequip::training {

// Adam / AMSGrad as torch.optim.Adam (1.13, single-tensor path) computes it.
struct Adam {
  double lr = 0.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool amsgrad = false;
  std::int64_t step = 0;
  std::vector<torch::Tensor> exp_avg, exp_avg_sq, max_exp_avg_sq;

  // Zero moments for `params`.
  void init(const std::vector<torch::Tensor>& params);
  // One step of `params` (in place) along `grads`.
  void update(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads);
};

// torch.nn.utils.clip_grad_norm_: scales `grads` by max_norm / (norm + 1e-6) when that is below 1.
void clip_gradient_norm(std::vector<torch::Tensor>& grads, double max_norm);

// torch_ema's ExponentialMovingAverage as nequip uses it: with use_num_updates the decay is
// min(decay, (1 + n) / (10 + n)) after n updates.
struct MovingAverage {
  double decay = 0.0;  // 0: no average
  bool use_num_updates = true;
  std::int64_t updates = 0;
  std::vector<torch::Tensor> shadow;

  bool enabled() const { return decay > 0.0; }
  void init(const std::vector<torch::Tensor>& params);
  void update(const std::vector<torch::Tensor>& params);
};

// The averaged weights in place of the trained ones while alive (validation, saving).
class AveragedWeights {
 public:
  AveragedWeights(const std::vector<torch::Tensor>& params, const MovingAverage& ema);
  ~AveragedWeights();
  AveragedWeights(const AveragedWeights&) = delete;
  AveragedWeights& operator=(const AveragedWeights&) = delete;

 private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> backup_;
};

// torch.optim.lr_scheduler.ReduceLROnPlateau (mode min, relative threshold 1e-4, no cooldown).
struct Plateau {
  int patience = 10;
  double factor = 0.5, min_lr = 0.0;
  double best = std::numeric_limits<double>::infinity();
  std::int64_t bad_epochs = 0;

  // The learning rate after an epoch with validation loss `metric`, from `lr`.
  double step(double metric, double lr);
};

}  // namespace nqmd::nequip::training
